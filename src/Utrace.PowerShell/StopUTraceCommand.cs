using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>Stops traces: detaches their probes, ends launched programs, and reports what each delivered and dropped.</summary>
[Cmdlet(VerbsLifecycle.Stop, "UTrace", DefaultParameterSetName = JobSet, SupportsShouldProcess = true)]
[OutputType(typeof(TraceSummary))]
public sealed class StopUTraceCommand : PSCmdlet
{
    private const string JobSet = "Job";
    private const string TraceIdSet = "TraceId";
    private const string AllSet = "All";

    /// <summary>Trace jobs returned by Start-UTrace -AsJob.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = JobSet)]
    [ValidateNotNull]
    public UTraceJob[] Job { get; set; } = [];

    /// <summary>
    /// Trace ids: a job's TraceId, a TraceSummary's Id, or the id in Start-UTrace's verbose output.
    /// Not a job id (Get-Job's Id) and not a process id: those are other numbers.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = TraceIdSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TraceIdCompleter))]
    public int[] TraceId { get; set; } = [];

    /// <summary>Every trace still running in this PowerShell process.</summary>
    [Parameter(Mandatory = true, ParameterSetName = AllSet)]
    public SwitchParameter All { get; set; }

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case JobSet:
                foreach (var job in Job)
                    StopJob(job);
                break;
            case TraceIdSet:
                foreach (var id in TraceId)
                {
                    if (TraceRegistry.Find(id) is { } session)
                        StopSession(session);
                    // A trace that has ended gives its summary while its job is listed, as Stop-UTrace $job does.
                    else if (JobRepository.Jobs.OfType<UTraceJob>().FirstOrDefault(job => job.TraceId == id) is { } ended)
                        StopJob(ended);
                    else
                        WriteError(ErrorRecords.Create(new ItemNotFoundException($"No running trace has id {id}."), "TraceNotFound",
                            ErrorCategory.ObjectNotFound, id, "List running traces with Get-Job -Name UTrace*, or stop them all with Stop-UTrace -All."));
                }
                break;
            default:
                foreach (var session in TraceRegistry.Active)
                    StopSession(session);
                break;
        }
    }

    private void StopJob(UTraceJob job)
    {
        if (ShouldProcess(job.Name, "Stop trace"))
        {
            job.StopJob();
            WriteObject(job.Summary);
        }
    }

    private void StopSession(TraceSession session)
    {
        if (ShouldProcess($"trace {session.Id} of process {session.ProcessId} ({session.Command})", "Stop trace"))
            WriteObject(session.Stop());
    }
}
