using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// Turns the engine's attach and detach progress into progress records, once a stage has taken
/// more than a second (its first report, with nothing done, starts its clock). Records made on other threads wait until the owner flushes them, since
/// a cmdlet may write only from its pipeline thread.
/// </summary>
internal sealed class ProgressReporter : IProgress<TraceProgress>
{
    private readonly TimeSpan _showAfter;
    private readonly ConcurrentQueue<ProgressRecord> _pending = new();
    private Action<ProgressRecord> _write;
    private Thread? _writer;
    private readonly string _target;
    private readonly Stopwatch?[] _stageClocks = new Stopwatch?[2];
    private readonly bool[] _shown = new bool[2];

    /// <param name="target">What is traced, for the activity line.</param>
    /// <param name="write">Writes a record; called on <paramref name="writer"/> only, or on any thread when it is null.</param>
    /// <param name="writer">The pipeline thread, or null.</param>
    /// <param name="showAfter">How long a stage runs before it is shown; a second by default.</param>
    public ProgressReporter(string target, Action<ProgressRecord> write, Thread? writer, TimeSpan? showAfter = null)
    {
        _target = target;
        _write = write;
        _writer = writer;
        _showAfter = showAfter ?? TimeSpan.FromSeconds(1);
    }

    public void Report(TraceProgress progress)
    {
        var stage = (int)progress.Stage;
        lock (_shown)
        {
            var clock = _stageClocks[stage] ??= Stopwatch.StartNew();
            var finished = progress.Done >= progress.Total;
            if (clock.Elapsed < _showAfter && !_shown[stage])
                return;
            _shown[stage] = !finished;
            var verb = progress.Stage == TraceStage.Attaching ? "Attaching probes to" : "Detaching probes from";
            _pending.Enqueue(new ProgressRecord(1 + stage, $"{verb} {_target}", $"{progress.Done} of {progress.Total} links")
            {
                PercentComplete = progress.Total == 0 ? 100 : (int)(100L * progress.Done / progress.Total),
                RecordType = finished ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            });
        }
        if (_writer is null || Thread.CurrentThread == _writer)
            Flush();
    }

    /// <summary>From now on, writes with <paramref name="write"/>, which any thread may call (a job's Progress).</summary>
    public void Redirect(Action<ProgressRecord> write)
    {
        _write = write;
        _writer = null;
        Flush();
    }

    /// <summary>Writes what other threads reported; call it from the writer thread.</summary>
    public void Flush()
    {
        while (_pending.TryDequeue(out var record))
            _write(record);
    }
}
