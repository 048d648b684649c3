using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// A trace running in the background: its output is the CallEvent stream, so Receive-Job,
/// Wait-Job and Stop-Job work as for any job.
/// </summary>
public sealed class UTraceJob : Job
{
    private readonly TraceSession _session;
    private readonly TraceReport _report;
    private readonly CancellationTokenSource _stopping = new();
    private Thread? _reader;

    internal UTraceJob(TraceSession session, TraceReport report) : base(session.Command, $"UTrace{session.Id}")
    {
        _session = session;
        _report = report;
        PSJobTypeName = "UTraceJob";
    }

    /// <summary>The trace's id, for Stop-UTrace -Id.</summary>
    public int TraceId => _session.Id;

    /// <summary>The traced process.</summary>
    public int ProcessId => _session.ProcessId;

    /// <summary>Delivered, dropped and filtered counts; final once the job has ended.</summary>
    public TraceSummary Summary => _session.Summary;

    public override string Location => Environment.MachineName;

    public override string StatusMessage => $"{_session.Summary.EventsDelivered} events";

    public override bool HasMoreData => Output.Count > 0 || Warning.Count > 0 || Error.Count > 0;

    /// <summary>Stops the trace; events already read stay in the job's output.</summary>
    public override void StopJob()
    {
        _session.Stop();
        _reader?.Join();
    }

    /// <summary>Starts reading; the start's warnings, which the cmdlet has written, are the job's too.</summary>
    internal void Begin(IEnumerable<string> startWarnings)
    {
        foreach (var warning in startWarnings)
            Warning.Add(new WarningRecord(warning));
        SetJobState(JobState.Running);
        _reader = new Thread(Run) { IsBackground = true, Name = $"utrace job {_session.Id}" };
        _reader.Start();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Cancel();
            _session.Dispose();
            // Receive-Job -AutoRemoveJob removes the job from the handler of its last state
            // change, which runs on the reader thread: that thread is ending, not to be waited for.
            if (_reader is { } reader && reader != Thread.CurrentThread)
                reader.Join();
            _stopping.Dispose();
        }
        base.Dispose(disposing);
    }

    private void Run()
    {
        try
        {
            foreach (var e in _session.ReadEvents(_stopping.Token))
                Output.Add(PSObject.AsPSObject(e));
        }
        catch (OperationCanceledException)
        {
            // Disposed: nobody reads any more.
        }
        // -Summary: the kernel's per-function figures, once the trace has ended (Stop-UTrace included).
        foreach (var function in _session.FunctionSummaries)
            Output.Add(PSObject.AsPSObject(function));
        var summary = _session.Summary;
        foreach (var warning in _report.EndWarnings(summary))
            Warning.Add(new WarningRecord(warning));
        if (_report.RecordingFailure() is { } failure)
            Error.Add(failure);
        SetJobState(summary.State switch
        {
            TraceState.Stopped => JobState.Stopped,
            TraceState.Failed => JobState.Failed,
            _ => JobState.Completed,
        });
    }
}
