using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Utrace.Native.Bpf;
using Utrace.Native.Capture;
using Utrace.Native.Recording;
using Utrace.Native.Reports;

namespace Utrace.Native.Tracing;

/// <summary>
/// One trace: the BPF program, its probes, the ring-buffer reader and the traced process.
/// Events queue up as calls complete; <see cref="ReadEvents"/> hands them out. The trace ends
/// when the program exits or <see cref="Stop"/> is called; either way every record still in
/// the ring buffer is read before the event stream completes.
/// </summary>
internal sealed class TraceSession : IDisposable, IRecordSink
{
    private static readonly ConcurrentDictionary<int, TraceSession> Sessions = new();
    private static int _lastId;

    private readonly object _finishLock = new();
    private readonly TraceOptions _options;
    // Events go to the consumer in batches: one queue operation per batch, not per event.
    private const int BatchSize = 256;
    private readonly BlockingCollection<ArraySegment<CallEvent>> _queue;
    private readonly IEventSink? _recorder;
    private readonly CancellationTokenSource _consumerGone = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly DateTime _startTime = DateTime.Now;
    private LaunchedChild? _child;
    private TraceProgram? _program;
    private TraceContext? _context;
    private RingBufferReader? _reader;
    private ProbeSet? _probes;
    private PatchGuard? _guard;
    private ProcessFollower? _follower;
    private ReturnMode _returnMode;
    private int _notProbed;
    private int _summaryCapacity;
    private TimeSpan _attachTime;
    private long _delivered;
    private long _droppedByConsumer;
    private CallEvent[] _filling = new CallEvent[BatchSize]; // the reader thread's
    private int _filled;
    private ArraySegment<CallEvent> _reading = ArraySegment<CallEvent>.Empty; // the consumer's
    private int _readIndex;
    private TraceSummary? _summary;
    private CaptureJoiner? _captures;

    private TraceSession(int processId, string command, TraceOptions options, IReadOnlyList<FunctionInfo> functions)
    {
        Id = Interlocked.Increment(ref _lastId);
        ProcessId = processId;
        Command = command;
        _options = options;
        Functions = Grows ? new GrowingFunctionTable(functions) : functions;
        _queue = new BlockingCollection<ArraySegment<CallEvent>>(Math.Max(1, options.QueueCapacity / BatchSize));
        _recorder = options.Recording;
    }

    public int Id { get; }
    public int ProcessId { get; private set; }
    public string Command { get; }
    public IReadOnlyList<FunctionInfo> Functions { get; }
    public TraceState State => _summary?.State ?? TraceState.Running;

    /// <summary>Things the user should know before trusting the trace (with -Follow, more may come while it runs).</summary>
    public IReadOnlyList<string> Warnings => _follower is { } follower ? [.. _warnings, .. follower.Warnings, .. _endWarnings] : _warnings;

    private IReadOnlyList<string> _warnings = [];
    private IReadOnlyList<string> _endWarnings = [];

    // Functions can be added while the trace runs: children and libraries loaded later.
    private bool Grows => _options.Follow || _options.Selection.NestLibrary is not null;

    /// <summary>Why writing the trace file failed and ended the trace, or null.</summary>
    public UtraceException? RecordingFailure => _options.Recording?.Failure;

    /// <summary>Completes when the trace has ended and every event is queued.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Traces that have not ended, by id.</summary>
    public static IReadOnlyCollection<TraceSession> Active => Sessions.Values.OrderBy(s => s.Id).ToArray();

    public static TraceSession? Find(int id) => Sessions.GetValueOrDefault(id);

    /// <summary>
    /// Starts <paramref name="program"/> stopped, attaches the probes, then lets it run: main and
    /// everything after it is traced.
    /// </summary>
    public static TraceSession Launch(string program, IReadOnlyList<string> argv, string workingDirectory,
        TraceOptions options, FunctionCatalog catalog)
    {
        var functions = SelectOrThrow(catalog, options, program);
        var session = new TraceSession(0, string.Join(' ', argv), options, functions);
        try
        {
            session._child = LaunchedChild.Start(program, argv[0], argv.Skip(1).ToArray(), workingDirectory, options.RunAs, options.ProgramOutput);
            session.ProcessId = session._child.ProcessId;
            session.AttachProbes(catalog);
            session._child.Release();
            session.Register();
            session.EndOnRecordingFailure();
            if (options.Follow)
                session.StartWatching();
            else
                _ = session._child.WaitForExitAsync().ContinueWith(_ => session.FinishQuietly(TraceState.Completed), TaskScheduler.Default);
            return session;
        }
        catch
        {
            session.Dispose();
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
        var functions = SelectOrThrow(catalog, options, processId);
        var session = new TraceSession(processId, ProcFs.CommandLine(processId) ?? catalog.ExecutableName, options, functions);
        try
        {
            session.AttachProbes(catalog);
            session.Register();
            session.EndOnRecordingFailure();
            session.StartWatching();
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
    public IEnumerable<CallEvent> ReadEvents(CancellationToken cancellation)
    {
        using var gone = cancellation.Register(_consumerGone.Cancel);
        while (TryRead(out var e, Timeout.Infinite, cancellation))
            yield return e;
    }

    /// <summary>
    /// The next event, waiting up to <paramref name="millisecondsTimeout"/>; false on time-out or
    /// once the trace has ended and every event was read (<see cref="IsDrained"/>). One consumer at a time.
    /// </summary>
    public bool TryRead([NotNullWhen(true)] out CallEvent? e, int millisecondsTimeout, CancellationToken cancellation)
    {
        if (_readIndex >= _reading.Count)
        {
            if (!_queue.TryTake(out _reading, millisecondsTimeout, cancellation))
            {
                e = null;
                return false;
            }
            _readIndex = 0;
        }
        e = _reading[_readIndex++];
        Interlocked.Increment(ref _delivered);
        return true;
    }

    /// <summary>True once the trace has ended and every event has been read.</summary>
    public bool IsDrained => _queue.IsCompleted && _readIndex >= _reading.Count;

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
        ? final with { EventsDelivered = Interlocked.Read(ref _delivered) }
        : BuildSummary(TraceState.Running, TimeSpan.Zero, _program?.ReadStats() ?? default);

    public void Dispose()
    {
        _consumerGone.Cancel();
        Finish(TraceState.Stopped);
        _child?.Dispose();
    }

    private void AttachProbes(FunctionCatalog catalog)
    {
        var clock = Stopwatch.StartNew();
        var warnings = new List<string>();
        _returnMode = ResolveReturnMode(catalog, warnings);
        if (_returnMode == ReturnMode.EntryOnly && _options.MinDuration.Nanoseconds > 0)
            throw new UtraceException(TraceErrorKind.InvalidArgument,
                "-MinDuration needs durations, which entry-only tracing does not measure.",
                "Leave out -MinDuration, or trace with -ReturnMode RetInstruction.", _options.MinDuration, errorId: "MinDurationWithoutReturns");
        // Return probes are what the unwinder cannot walk through; without them nothing needs patching.
        var unwindHooks = _returnMode == ReturnMode.Uretprobe ? catalog.UnwindHooks() : [];
        var mode = ResolveAttachMode();
        if (_options.Follow && mode == AttachMode.PerFunction)
            throw new UtraceException(TraceErrorKind.InvalidArgument,
                "-Follow needs multi-uprobe links (Linux 6.6 or later), whose process filter each child gets its own of.",
                "Leave out -AttachMode PerFunction, or trace without -Follow.", _options.AttachMode, errorId: "FollowNeedsMultiLinks");
        // A child, or a library that only comes later, may throw through return probes: keep the
        // unwinder protected (it costs about a second more of BPF verification at the start).
        var libraryComesLater = _options.Selection.NestLibrary is { } nest && !catalog.LibraryNames.Any(nest);
        var protectUnwind = unwindHooks.Count > 0 || (_returnMode == ReturnMode.Uretprobe && (_options.Follow || libraryComesLater));
        var config = new TraceConfig
        {
            // Followed children have their own process ids; each link filters on its own process.
            TargetTgid = _options.Follow ? 0u : (uint)ProcessId,
            MinDurationNs = (ulong)Math.Max(0, _options.MinDuration.Nanoseconds),
            MaxDepth = _options.MaxDepth is { } max ? (uint)Math.Max(0, max) : uint.MaxValue,
            WakeupBytes = (ulong)_options.WakeupBytes,
            FilterThreads = _options.ThreadIds is { Count: > 0 } ? 1u : 0u,
            ProtectUnwind = protectUnwind ? 1u : 0u,
            SummaryOnly = _options.SummaryOnly ? 1u : 0u,
            ReturnMode = _returnMode,
        };
        var captures = ResolveCaptures(warnings);
        var plan = ProbePlan.Build(Functions, _returnMode, captures);
        // Summary mode's per-function map cannot grow: room for functions added later, up to a limit.
        _summaryCapacity = Grows ? Functions.Count + AddedFunctionsSummarized : Functions.Count;
        var ringBytes = _options.RingBufferBytes ?? (captures is null ? TraceOptions.DefaultRingBufferBytes : TraceOptions.CaptureRingBufferBytes);
        _program = TraceProgram.Load(config, mode, ringBytes, _summaryCapacity, readsStrings: captures?.Any(c => c?.ReadsStrings == true) == true);
        if (_options.ThreadIds is { Count: > 0 } threads)
            _program.AddThreads(threads);
        _context = TraceContext.StartingNow(Functions, captures);
        _recorder?.Begin(_context, TraceOrigin.Here(Command, ProcessId));
        _reader = new RingBufferReader(_program.EventsMapFd, ringBytes, this);
        _probes = ProbeSet.Attach(_program, ProcessId, plan, unwindHooks, _options.Progress);
        if (Grows)
            _follower = ProcessFollower.Start(_program, (GrowingFunctionTable)Functions, _options, _returnMode, protectUnwind,
                ProcessId, _child is null ? 0u : 1u, catalog, plan, unwindHooks, _probes);
        // After the attach, since it holds the hooks' links; a stop requested meanwhile waits in the ring.
        if (config.ProtectUnwind != 0)
            _guard = PatchGuard.Start(_program.PatchesMapFd, _program.StacksMapFd, ProcessId,
                _probes.UnwindLinks.Select(Interop.Libbpf.LinkFd).ToArray());
        var notProbed = plan.Unprobeable.Concat(_probes.Refused).ToDictionary();
        _notProbed = notProbed.Count;
        if (LeftOutWarning(notProbed) is { } leftOut)
            warnings.Add(leftOut);
        _warnings = warnings;
        _reader.Start();
        _attachTime = clock.Elapsed;
    }

    /// <summary>Each function's capture spec (-Capture), or null when nothing is captured.</summary>
    private CaptureSpec?[]? ResolveCaptures(List<string> warnings)
    {
        if (_options.Captures is not { Count: > 0 } rules)
            return null;
        if (_options.SummaryOnly)
            throw new UtraceException(TraceErrorKind.InvalidArgument, "-Summary sends no calls, so it has nothing to capture arguments of.",
                "Leave out -Capture, or -Summary.", rules[0].Pattern, errorId: "CaptureWithSummary");
        var captures = CaptureRule.Resolve(rules, Functions);
        _captures = new CaptureJoiner();
        if (_returnMode == ReturnMode.EntryOnly && captures.Any(c => c?.Returns is not null))
            warnings.Add("Return values are not captured: calls are reported at their entry (-ReturnMode EntryOnly), before they return.");
        return captures;
    }

    /// <summary>
    /// Sessions only time calls through return probes: other return modes get multi-uprobe links. They
    /// save the return probes of the calls their entry drops, but a delivered call costs what it costs on
    /// the pair (bench/results/overhead-modes.md), so Auto takes them for traces that drop calls at entry.
    /// </summary>
    private AttachMode ResolveAttachMode()
    {
        var sessionsUseful = _returnMode == ReturnMode.Uretprobe;
        var dropsAtEntry = _options.ThreadIds is { Count: > 0 } || _options.MaxDepth is not null;
        switch (_options.AttachMode)
        {
            case AttachMode.Auto when sessionsUseful && dropsAtEntry && TraceProgram.KernelHasSessions:
                return AttachMode.Session;
            case AttachMode.Auto:
                return TraceProgram.KernelHasMultiLinks ? AttachMode.MultiLink : AttachMode.PerFunction;
            case AttachMode.Session when !TraceProgram.KernelHasSessions:
                throw new UtraceException(TraceErrorKind.NotSupported,
                    "-AttachMode Session needs uprobe session programs (Linux 6.13 or later), which this kernel lacks.",
                    "Leave out -AttachMode: Auto uses the best mode this kernel has.", AttachMode.Session, errorId: "SessionNotSupported");
            case AttachMode.Session when !sessionsUseful:
                return AttachMode.MultiLink;
            default:
                return _options.AttachMode;
        }
    }

    private ReturnMode ResolveReturnMode(FunctionCatalog catalog, List<string> warnings)
    {
        if (_options.ReturnMode != ReturnMode.Auto)
            return _options.ReturnMode;
        if (catalog.StackSwitchSign() is not { } sign)
            return ReturnMode.Uretprobe;
        warnings.Add($"{catalog.ExecutableName} switches stacks ({sign}): return probes would change what it computes, so its calls " +
            "are reported at entry, without durations (-ReturnMode EntryOnly). For durations use -ReturnMode RetInstruction, " +
            "which costs several microseconds more per call.");
        return ReturnMode.EntryOnly;
    }

    private string? LeftOutWarning(IReadOnlyDictionary<int, string> leftOut)
    {
        if (leftOut.Count == 0)
            return null;
        const int Named = 10;
        var named = leftOut.OrderBy(f => f.Key).Take(Named).Select(f => $"{Functions[f.Key].Name} ({f.Value})");
        var more = leftOut.Count > Named ? $", and {leftOut.Count - Named} more" : "";
        return $"{leftOut.Count} function(s) cannot be probed and are not traced: {string.Join("; ", named)}{more}.";
    }

    /// <summary>How many functions added while a -Summary trace runs get a summary; later ones are counted in no summary.</summary>
    public const int AddedFunctionsSummarized = 4096;

    void IRecordSink.OnProcessEvent(in ProcessRecord record)
    {
        if (_follower is { } follower)
            follower.Enqueue(record);
        else
            Interop.Libc.Kill((int)record.Pid, Interop.Libc.SIGCONT);
    }

    void IRecordSink.OnCapture(ReadOnlySpan<byte> record) => _captures?.Add(record);

    // The hot path: runs on the reader thread for every record.
    void IRecordSink.OnEvent(in EventRecord record)
    {
        var call = record.ToTracedCall(_context!, _captures?.Take(record));
        _recorder?.OnEvent(call);
        if (!_options.StreamEvents)
            return;
        if (_consumerGone.IsCancellationRequested)
        {
            _droppedByConsumer++;
            return;
        }
        _filling[_filled++] = new CallEvent(call);
        if (_filled == BatchSize)
            HandOverBatch();
    }

    // After each pass over the ring: what was read goes to the consumer now, however few.
    void IRecordSink.OnRecordsRead()
    {
        if (_filled > 0)
            HandOverBatch();
    }

    private void HandOverBatch()
    {
        var batch = new ArraySegment<CallEvent>(_filling, 0, _filled);
        _filling = new CallEvent[BatchSize];
        _filled = 0;
        if (_queue.TryAdd(batch))
            return;
        try
        {
            _queue.Add(batch, _consumerGone.Token);
        }
        catch (OperationCanceledException)
        {
            _droppedByConsumer += batch.Count;
        }
    }

    private void Finish(TraceState state)
    {
        lock (_finishLock)
        {
            if (_summary is not null)
                return;
            var clock = Stopwatch.StartNew();
            StatsRecord stats = default;
            try
            {
                if (state != TraceState.Completed)
                    _child?.Terminate();
                _program?.EndRecording();
                DetachProbes();
                _guard?.Finish(_follower?.Survivors);
                _reader?.StopAndDrain();
                stats = _program?.ReadStats() ?? default;
                if (NothingMatchedWarning() is { } nothing)
                    _endWarnings = [nothing];
                if (_options.SummaryOnly && _program is not null)
                    FunctionSummaries = KernelSummaries.Build(Functions, _program.ReadSummaries(Math.Min(Functions.Count, _summaryCapacity)), stats.OutermostNs);
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
                _summary = BuildSummary(state, clock.Elapsed, stats);
                _queue.CompleteAdding();
                Sessions.TryRemove(Id, out _);
                _completion.TrySetResult();
            }
        }
    }

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

    /// <summary>With <see cref="TraceOptions.SummaryOnly"/>, once the trace has ended: one per function called, largest Total first.</summary>
    public IReadOnlyList<FunctionSummary> FunctionSummaries { get; private set; } = [];

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

    private TraceSummary BuildSummary(TraceState state, TimeSpan detachTime, in StatsRecord stats) => new()
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
        CallsUnwound = (long)stats.Unwound,
        EventsDelivered = Interlocked.Read(ref _delivered),
        EventsSent = (long)stats.Sent,
        ReturnMode = _returnMode,
        FunctionsNotProbed = _notProbed,
        EventsRecorded = _options.Recording?.EventsWritten ?? 0,
        EventsDropped = (long)(stats.Lost + stats.TooDeep + stats.NoStack) + _droppedByConsumer + DroppedUnwritten,
        DroppedTooDeep = (long)stats.TooDeep,
        DroppedRingBufferFull = (long)stats.Lost,
        DroppedNoThreadStack = (long)stats.NoStack,
        ReturnsUnmatched = (long)stats.Unmatched,
        StackPatches = (long)stats.Patches,
        StackPatchesFailed = (long)stats.PatchLost + (_guard?.Failed ?? 0),
        DroppedUnread = _droppedByConsumer,
        DroppedUnwritten = DroppedUnwritten,
        EventsFiltered = (long)stats.Filtered,
        CapturesLost = (long)stats.CapturesLost,
        AttachTime = _attachTime,
        DetachTime = detachTime,
        StartTime = _startTime,
        EndTime = state == TraceState.Running ? null : DateTime.Now,
    };

    private long DroppedUnwritten => _options.Recording?.EventsDropped ?? 0;

    private void Register() => Sessions[Id] = this;

    // Subscribed once attached, so that a failure never races the attach; one that came before ends the trace now.
    private void EndOnRecordingFailure()
    {
        if (_options.Recording is not { } file)
            return;
        file.Failed += _ => FinishQuietly(TraceState.Failed);
        if (file.Failure is not null)
            Finish(TraceState.Failed);
    }

    private void StartWatching() =>
        new Thread(WatchProcesses) { IsBackground = true, Name = "utrace process watch" }.Start();

    // The trace ends when the process has exited; with -Follow, when every follower has too.
    private void WatchProcesses()
    {
        while (!_completion.Task.IsCompleted)
        {
            if (_follower is { } follower && _options.Follow ? !follower.AnyRunning() : !ProcFs.IsRunning(ProcessId))
            {
                // A launched program leaves the kernel's table of followers before its exit code is there to read.
                _child?.WaitForExitAsync().Wait(TimeSpan.FromSeconds(1));
                FinishQuietly(TraceState.Completed);
                return;
            }
            Thread.Sleep(100);
        }
    }

    private static IReadOnlyList<FunctionInfo> SelectOrThrow(FunctionCatalog catalog, TraceOptions options, object target)
    {
        var functions = catalog.Select(options.Selection);
        // They may come later: in the programs it runs (-Follow), in a library it has yet to load.
        var mayComeLater = options.Follow || (options.Selection.NestLibrary is { } nest && !catalog.LibraryNames.Any(nest));
        if (functions.Count == 0 && !mayComeLater)
            throw new UtraceException(TraceErrorKind.NotFound,
                $"No function of {catalog.ExecutableName} matches the selection ({catalog.Own.Count} functions and library calls exist).",
                $"List what can be traced with Get-UTraceFunction, then adjust -Function, -Library or -NestLibrary.", target, errorId: "NoFunctionMatches");
        return functions;
    }
}
