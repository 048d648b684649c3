using System.Collections.Concurrent;
using System.Management.Automation;
using System.Management.Automation.Host;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// The output of a program launched from a remote session, where it must not share PowerShell's
/// stdin and stdout (they carry the remoting protocol): each line becomes host output, as
/// Write-Host makes it, so it shows on the client's console beside the CallEvents, not among them.
/// Lines wait for the pipeline thread's <see cref="Flush"/> (a cmdlet writes only from there),
/// or go straight to a job's Information stream.
/// </summary>
internal sealed class ProgramOutputRelay(string source)
{
    private readonly ConcurrentQueue<InformationRecord> _pending = new();
    private readonly object _targetLock = new();
    private PSDataCollection<InformationRecord>? _job;

    /// <summary>True where a launched program cannot share PowerShell's console: a remote session or a Start-Job process.</summary>
    public static bool IsNeeded(PSHost host) => host.Name == "ServerRemoteHost";

    public void Add(ProgramOutputLine line)
    {
        var record = new InformationRecord(new HostInformationMessage { Message = line.Text }, source);
        record.Tags.Add("PSHOST");
        record.Tags.Add(line.IsError ? "stderr" : "stdout");
        lock (_targetLock)
        {
            if (_job is not null)
                _job.Add(record);
            else
                _pending.Enqueue(record);
        }
    }

    /// <summary>Writes the lines that came in; call it from the pipeline thread.</summary>
    public void Flush(Action<InformationRecord> write)
    {
        while (_pending.TryDequeue(out var record))
            write(record);
    }

    /// <summary>From now on, lines go to a job's Information stream, the waiting ones first.</summary>
    public void Redirect(PSDataCollection<InformationRecord> job)
    {
        lock (_targetLock)
        {
            Flush(job.Add);
            _job = job;
        }
    }
}
