using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Utrace.Native.Reports;

namespace Utrace.Native.Tracing;

/// <summary>
/// One trace: the BPF program, its probes, the ring-buffer reader and the traced process.
/// Events queue up as calls complete; <see cref="ReadEvents"/> hands them out. The trace ends
/// when the program exits or <see cref="Stop"/> is called; either way every record still in
/// the ring buffer is read before the event stream completes.
/// </summary>
internal sealed class TraceSession : IDisposable
{
    private readonly object _finishLock = new();
    private readonly TraceOptions _options;
    private readonly EventPump _pump;
    private readonly IEventSink? _recorder;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly DateTime _startTime = DateTime.Now;
    private LaunchedChild? _child;
    private TraceSetup? _setup;
    private TraceProgram? _program;
    private RingBufferReader? _reader;
    private ProbeSet? _probes;
    private PatchGuard? _guard;
    private ProcessFollower? _follower;
    private ExitWatcher? _watcher;
    private ProbeCostWatch? _costWatch;
    private int _notProbed;
    private TimeSpan _attachTime;
    private TraceSummary? _summary;

    private TraceSession(int processId, string command, TraceOptions options, IReadOnlyList<FunctionInfo> functions)
    {
        ProcessId = processId;
        Command = command;
        _options = options;
        Functions = TraceSetup.Grows(options) ? new GrowingFunctionTable(functions) : functions;
        _pump = new EventPump(options, OnProcessEvent);
        _recorder = options.Recording;
    }

    public int Id => _options.TraceId;
    public int ProcessId { get; private set; }
    public string Command { get; }
    public IReadOnlyList<FunctionInfo> Functions { get; }
    public TraceState State => _summary?.State ?? TraceState.Running;

    /// <summary>Things the user should know before trusting the trace (with -Follow, more may come while it runs).</summary>
    public IReadOnlyList<string> Warnings => [.. _warnings, .. _follower?.Warnings ?? [], .. RunningWarnings, .. _endWarnings];

    // What the probe-cost watch said while the trace ran, on its timer's thread.
    private readonly List<string> _runningWarnings = new();

    private string[] RunningWarnings
    {
        get
        {
            lock (_runningWarnings)
                return _runningWarnings.ToArray();
        }
    }

    private IReadOnlyList<string> _warnings = [];
    private IReadOnlyList<string> _endWarnings = [];
    private TraceContext? _context;
    private string? _programName;

    /// <summary>Why writing the trace file failed and ended the trace, or null.</summary>
    public UtraceException? RecordingFailure => _options.Recording?.Failure;

    /// <summary>Completes when the trace has ended and every event is queued.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Starts <paramref name="program"/> stopped, attaches the probes, then lets it run: main and
    /// everything after it is traced, and the constructors of its libraries. Its functions are those
    /// of <paramref name="tracedBinary"/> (the program, or a script's interpreter) and of the libraries
    /// its dynamic linker loaded.
    /// </summary>
    public static TraceSession Launch(string program, string tracedBinary, IReadOnlyList<string> argv, string workingDirectory, TraceOptions options)
    {
        var executable = FunctionCatalog.OpenExecutable(tracedBinary);
        var child = LaunchedChild.Start(program, argv[0], argv.Skip(1).ToArray(), workingDirectory, options.RunAs, options.ProgramOutput);
        FunctionCatalog catalog;
        TraceSession session;
        try
        {
            catalog = FunctionCatalog.ForLoadedProgram(executable, tracedBinary, child.RunToLibraries(executable));
            session = new TraceSession(child.ProcessId, string.Join(' ', argv), options, TraceSetup.SelectFunctions(catalog, options, program)) { _child = child };
        }
        catch (UtraceException ex) when (ex.ErrorId == "ProgramExitedAtStart")
        {
            // A library missing, say: the program ended as it does untraced, and its exit code is what to report.
            var ended = new TraceSession(child.ProcessId, string.Join(' ', argv), options, []) { _child = child, _warnings = [$"{ex.Message} Nothing was traced."] };
            ended.Finish(TraceState.Completed);
            return ended;
        }
        catch
        {
            child.Terminate();
            child.Dispose();
            throw;
        }
        session.Start(catalog);
        return session;
    }

    // From here the session owns the child: Dispose ends it.
    private void Start(FunctionCatalog catalog)
    {
        try
        {
            AttachProbes(catalog);
            _child!.Release();
            EndOnRecordingFailure();
            if (_options.Follow)
                WatchExits();
            else
                _ = _child.WaitForExitAsync().ContinueWith(_ => FinishQuietly(TraceState.Completed), TaskScheduler.Default);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Attaches to a running process; its existing threads are traced too.</summary>
    public static TraceSession Attach(int processId, TraceOptions options, FunctionCatalog catalog)
    {
        // The reader would trace itself, and a stop for C++ unwinding would never be continued.
        if (processId == Environment.ProcessId)
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"Process {processId} is the PowerShell that runs Utrace: it cannot trace itself.",
                "Trace the program from another PowerShell, or start it with Start-UTrace -Command.", processId, errorId: "CannotTraceSelf");
        var functions = TraceSetup.SelectFunctions(catalog, options, processId);
        var session = new TraceSession(processId, ProcFs.CommandLine(processId) ?? catalog.ExecutableName, options, functions);
        try
        {
            session.AttachProbes(catalog);
            session.EndOnRecordingFailure();
            session.WatchExits();
            return session;
        }
        // Whatever /proc file or mapped path of the process vanished first, it exited meanwhile.
        catch (Exception ex) when (ex is UtraceException or IOException or UnauthorizedAccessException && ProcFs.HasExited(processId))
        {
            session.Dispose();
            throw ProcFs.Exited(processId, ex);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Events in completion order, until the trace ends. Cancelling <paramref name="cancellation"/>
    /// means nobody reads any more: later events are counted as dropped instead of queued.
    /// </summary>
    public IEnumerable<CallEvent> ReadEvents(CancellationToken cancellation) => _pump.ReadEvents(cancellation);

    /// <summary>
    /// The next event, waiting up to <paramref name="millisecondsTimeout"/>; false on time-out or
    /// once the trace has ended and every event was read (<see cref="IsDrained"/>). One consumer at a time.
    /// </summary>
    public bool TryRead([NotNullWhen(true)] out CallEvent? e, int millisecondsTimeout, CancellationToken cancellation) =>
        _pump.TryRead(out e, millisecondsTimeout, cancellation);

    /// <summary>True once the trace has ended and every event has been read.</summary>
    public bool IsDrained => _pump.IsDrained;

    /// <summary>Ends the trace: a launched program is terminated, probes are detached, the stream completes.</summary>
    public TraceSummary Stop()
    {
        Finish(TraceState.Stopped);
        return Summary;
    }

    /// <summary>
    /// The trace's figures, final once <see cref="Completion"/> is done, except EventsDelivered,
    /// which goes on counting while the consumer reads what the trace queued.
    /// </summary>
    public TraceSummary Summary => _summary is { } final
        ? final with { EventsDelivered = _pump.Delivered }
        : BuildSummary(TraceState.Running, TimeSpan.Zero, _program?.ReadCounters() ?? []);

    /// <summary>With <see cref="TraceOptions.SummaryOnly"/>, once the trace has ended: one per function called, largest Total first.</summary>
    public IReadOnlyList<FunctionSummary> FunctionSummaries { get; private set; } = [];

    public void Dispose()
    {
        _pump.ConsumerGone();
        Finish(TraceState.Stopped);
        _child?.Dispose();
    }

    private void AttachProbes(FunctionCatalog catalog)
    {
        var clock = Stopwatch.StartNew();
        var setup = _setup = TraceSetup.Resolve(_options, catalog, Functions, KernelFeatures.Current, ProcessId);
        var probeCosts = ProbeCostsFor(setup);
        _program = TraceProgram.Load(probeCosts?.Priced(setup.Config) ?? setup.Config, setup.AttachMode, setup.RingBufferBytes, setup.SummaryCapacity, setup.ReadsStrings);
        if (_options.ThreadIds is { Count: > 0 } threads)
            _program.AddThreads(threads);
        var context = _context = TraceContext.StartingNow(Functions, setup.Captures);
        _programName = catalog.ExecutableName;
        _pump.Begin(context, joinsCaptures: setup.Captures is not null);
        _recorder?.Begin(context, TraceOrigin.Here(Command, ProcessId));
        _reader = new RingBufferReader(_program.EventsMapFd, setup.RingBufferBytes, _pump);
        _probes = ProbeSet.Attach(_program, ProcessId, setup.Plan, setup.UnwindHooks, _options.Progress, linksPerFunction: _options.Budget is not null);
        if (TraceSetup.Grows(_options))
            _follower = ProcessFollower.Start(_program, (GrowingFunctionTable)Functions, _options, setup, ProcessId, _child?.ExecsToCome ?? 0u, catalog, _probes);
        // After the attach, since it holds the hooks' links; a stop requested meanwhile waits in the ring.
        if (setup.ProtectUnwind)
            _guard = PatchGuard.Start(_program.PatchesMapFd, _program.StacksMapFd, ProcessId,
                _probes.UnwindLinks.Select(Interop.Libbpf.LinkFd).ToArray());
        var notProbed = setup.Plan.Unprobeable.Concat(_probes.Refused).ToDictionary();
        _notProbed = notProbed.Count;
        _warnings = NotProbedWarning.For(notProbed, Functions) is { } leftOut ? [.. setup.Warnings, leftOut] : setup.Warnings;
        if (_calibrationWarning is { } calibration)
            _warnings = [.. _warnings, calibration];
        _reader.Start();
        WatchProbeCosts(setup, probeCosts);
        _attachTime = clock.Elapsed;
    }

    /// <summary>
    /// The calibration of this trace's modes, when its calls are timed one by one; a calibration that fails leaves the
    /// durations raw and says so, but never stops the trace.
    /// </summary>
    private ProbeCalibration? ProbeCostsFor(TraceSetup setup)
    {
        if (!_options.AccountProbeCost || setup.ReturnMode == ReturnMode.EntryOnly)
            return null;
        try
        {
            return ProbeCalibrator.For(setup.ReturnMode, setup.AttachMode);
        }
        catch (Exception ex) when (ex is UtraceException or IOException or UnauthorizedAccessException)
        {
            _calibrationWarning = $"Durations include the probes' cost: measuring it failed. {ex.Message} {(ex as UtraceException)?.Hint}";
            return null;
        }
    }

    private string? _calibrationWarning;

    /// <summary>
    /// Watches what the probes cost as the trace runs (to advise, and to keep -ProbeBudget), with the calibration the
    /// durations use or, where there are none (entry-only, watched only under a budget), the one of return probes. Not for
    /// the calibration run itself.
    /// </summary>
    private void WatchProbeCosts(TraceSetup setup, ProbeCalibration? probeCosts)
    {
        // The advisor speaks of the callers' durations: an entry-only trace, which has none, is watched only to keep a budget.
        if (!_options.AccountProbeCost || (setup.ReturnMode == ReturnMode.EntryOnly && _options.Budget is null))
            return;
        try
        {
            probeCosts ??= ProbeCalibrator.For(setup.ReturnMode == ReturnMode.EntryOnly ? ReturnMode.Uretprobe : setup.ReturnMode,
                setup.ReturnMode == ReturnMode.EntryOnly ? AttachMode.MultiLink : setup.AttachMode);
        }
        catch (Exception ex) when (ex is UtraceException or IOException or UnauthorizedAccessException)
        {
            if (_options.Budget is not null)
                _warnings = [.. _warnings, $"-ProbeBudget is not kept: measuring the probes' cost failed. {ex.Message}"];
            return;
        }
        _costWatch = ProbeCostWatch.Start(ProcessId, _program!, _probes!, Functions, probeCosts, _options.Budget, warning =>
        {
            lock (_runningWarnings)
                _runningWarnings.Add(warning);
        });
    }

    private void OnProcessEvent(ProcessRecord record)
    {
        if (_follower is { } follower)
        {
            follower.Enqueue(record);
            _watcher?.Wake();
        }
        else
            Interop.Libc.Kill((int)record.Pid, Interop.Libc.SIGCONT);
    }

    private void Finish(TraceState state)
    {
        // Outside the lock, which the watcher's own call to Finish may be waiting for.
        _watcher?.Dispose();
        lock (_finishLock)
        {
            if (_summary is not null)
                return;
            var clock = Stopwatch.StartNew();
            TimeSpan? detachTime = null;
            ulong[] counters = [];
            try
            {
                // Before the probes go: it may be dropping some.
                _costWatch?.Dispose();
                if (state != TraceState.Completed)
                    _child?.Terminate();
                _program?.EndRecording();
                DetachProbes();
                _costWatch?.SettleCounts();
                _guard?.Finish(_follower?.Survivors);
                // What follows goes at the consumer's pace: the reader hands the last events over
                // as the queue makes room, seconds after a trace of millions of calls.
                detachTime = clock.Elapsed;
                _reader?.StopAndDrain();
                counters = _program?.ReadCounters() ?? [];
                _endWarnings = [.. StackSwitchWarnings(), .. NothingMatchedWarning() is { } nothing ? [nothing] : Array.Empty<string>()];
                if (_options.SummaryOnly && _program is not null)
                    FunctionSummaries = KernelSummaries.Build(Functions, _program.ReadSummaries(Math.Min(Functions.Count, _setup!.SummaryCapacity)),
                        (ulong)KernelCounters.Apply(new TraceSummary(), counters).OutermostNs);
            }
            catch
            {
                state = TraceState.Failed;
                throw;
            }
            finally
            {
                _reader?.Dispose();
                _recorder?.Complete();
                _guard?.Dispose();
                _program?.Dispose();
                _summary = BuildSummary(state, detachTime ?? clock.Elapsed, counters);
                _pump.Complete();
                _completion.TrySetResult();
            }
        }
    }

    // Each process that switched stacks lost its return probes then: say which, and when.
    private IEnumerable<string> StackSwitchWarnings() => _program is null || _context is null ? [] : _program.ReadStackSwitches()
        .OrderBy(entry => entry.Value.TimeNs)
        .Select(entry => ReturnPolicy.SwitchedStacksWarning(entry.Key == ProcessId ? _programName! : "A program it ran", entry.Key,
            UnwindHook.StackSwitchRoutine(entry.Value.Routine), (int)entry.Value.Tid, _context.ToWallClock(entry.Value.TimeNs)));

    // A selection may match nothing at the start when it is meant for what comes later (-Follow,
    // a library loaded later); if nothing ever came, the user must not take silence for no calls.
    private string? NothingMatchedWarning()
    {
        if (_follower is null || Functions.Count > 0)
            return null;
        var later = _options.Follow ? "or of a program it ran" : "or of a library it loaded";
        return $"Nothing was traced: no function of '{Command}' {later} matches the selection. " +
            "List what can be traced with Get-UTraceFunction, then adjust -Function, -Library or -NestLibrary.";
    }

    // The followed processes' probes go together with the first process's: see ProbeSet.DetachTogether.
    private void DetachProbes()
    {
        // The follower holds the first process's set too, until that process execs.
        if (_follower is { } follower)
            follower.Dispose();
        else
            _probes?.Dispose();
    }

    // On a thread of Utrace's own, where an exception would end PowerShell: Finish records the
    // failure in the summary (State Failed) before it throws, so nothing is lost by catching it.
    private void FinishQuietly(TraceState state)
    {
        try
        {
            Finish(state);
        }
        catch (Exception)
        {
        }
    }

    private TraceSummary BuildSummary(TraceState state, TimeSpan detachTime, ulong[] counters)
    {
        var summary = KernelCounters.Apply(new TraceSummary
        {
            Id = Id,
            ProcessId = ProcessId,
            Command = Command,
            State = state,
            ExitCode = _child is { HasExited: true } child ? child.ExitCode : null,
            FunctionCount = Functions.Count,
            AttachMode = _program?.Mode ?? _options.AttachMode,
            LinkCount = _probes?.LinkCount ?? 0,
            Functions = FunctionSummaries,
            EventsDelivered = _pump.Delivered,
            ReturnMode = _setup?.ReturnMode ?? default,
            FunctionsNotProbed = _notProbed,
            DroppedFunctions = _costWatch?.Dropped ?? [],
            EventsRecorded = _options.Recording?.EventsWritten ?? 0,
            DroppedUnread = _pump.DroppedByConsumer,
            DroppedUnwritten = _options.Recording?.EventsDropped ?? 0,
            AttachTime = _attachTime,
            DetachTime = detachTime,
            StartTime = _startTime,
            EndTime = state == TraceState.Running ? null : DateTime.Now,
        }, counters);
        // Patches the guard could not write fail as those the kernel could not request do.
        return summary with { StackPatchesFailed = summary.StackPatchesFailed + (_guard?.Failed ?? 0) };
    }

    // Subscribed once attached, so that a failure never races the attach; one that came before ends the trace now.
    private void EndOnRecordingFailure()
    {
        if (_options.Recording is not { } file)
            return;
        file.Failed += _ => FinishQuietly(TraceState.Failed);
        if (file.Failure is not null)
            Finish(TraceState.Failed);
    }

    // The trace ends when the process has exited; with -Follow, when every process followed has too.
    private void WatchExits()
    {
        Func<IReadOnlyList<int>> processes = _follower is { } follower && _options.Follow ? follower.FollowedProcesses : () => [ProcessId];
        _watcher = ExitWatcher.Start(processes, () =>
        {
            // A launched program leaves the kernel's table of followers before its exit code is there to read.
            _child?.WaitForExitAsync().Wait(TimeSpan.FromSeconds(1));
            FinishQuietly(TraceState.Completed);
        });
    }
}
