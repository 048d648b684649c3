using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Utrace.Native.Bpf;
using Utrace.Native.Recording;

namespace Utrace.Native.Tracing;

/// <summary>
/// One trace: the BPF program, its probes, the ring-buffer reader and the traced process.
/// Events queue up as calls complete; <see cref="ReadEvents"/> hands them out. The trace ends
/// when the program exits or <see cref="Stop"/> is called; either way every record still in
/// the ring buffer is read before the event stream completes.
/// </summary>
public sealed class TraceSession : IDisposable, IRecordSink
{
    private static readonly ConcurrentDictionary<int, TraceSession> Sessions = new();
    private static int _lastId;

    private readonly object _finishLock = new();
    private readonly TraceOptions _options;
    private readonly BlockingCollection<CallEvent> _queue;
    private readonly IEventSink? _recorder;
    private readonly CancellationTokenSource _consumerGone = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly DateTime _startTime = DateTime.Now;
    private LaunchedChild? _child;
    private TraceProgram? _program;
    private TraceContext? _context;
    private RingBufferReader? _reader;
    private ProbeSet? _probes;
    private StackPatcher? _patcher;
    private TimeSpan _attachTime;
    private long _delivered;
    private long _droppedByConsumer;
    private TraceSummary? _summary;

    private TraceSession(int processId, string command, TraceOptions options, IReadOnlyList<FunctionInfo> functions)
    {
        Id = Interlocked.Increment(ref _lastId);
        ProcessId = processId;
        Command = command;
        Functions = functions;
        _options = options;
        _queue = new BlockingCollection<CallEvent>(options.QueueCapacity);
        _recorder = options.Recording;
    }

    public int Id { get; }
    public int ProcessId { get; private set; }
    public string Command { get; }
    public IReadOnlyList<FunctionInfo> Functions { get; }
    public TraceState State => _summary?.State ?? TraceState.Running;

    /// <summary>Things the user should know before trusting the trace.</summary>
    public IReadOnlyList<string> Warnings { get; private set; } = [];

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
            session._child = LaunchedChild.Start(program, argv[0], argv.Skip(1).ToArray(), workingDirectory);
            session.ProcessId = session._child.ProcessId;
            session.AttachProbes(catalog.UnwindHooks());
            session._child.Release();
            session.Register();
            session.EndOnRecordingFailure();
            _ = session._child.WaitForExitAsync().ContinueWith(_ => session.Finish(TraceState.Completed), TaskScheduler.Default);
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
                "Trace the program from another PowerShell, or start it with Start-UTrace -Command.", processId);
        var functions = SelectOrThrow(catalog, options, processId);
        var session = new TraceSession(processId, ReadCommandLine(processId) ?? catalog.ExecutableName, options, functions);
        try
        {
            session.AttachProbes(catalog.UnwindHooks());
            session.Register();
            session.EndOnRecordingFailure();
            var watcher = new Thread(session.WatchAttachedProcess) { IsBackground = true, Name = "utrace process watch" };
            watcher.Start();
            return session;
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
    /// once the trace has ended and every event was read (<see cref="IsDrained"/>).
    /// </summary>
    public bool TryRead([NotNullWhen(true)] out CallEvent? e, int millisecondsTimeout, CancellationToken cancellation)
    {
        if (!_queue.TryTake(out e, millisecondsTimeout, cancellation))
            return false;
        Interlocked.Increment(ref _delivered);
        return true;
    }

    /// <summary>True once the trace has ended and every event has been read.</summary>
    public bool IsDrained => _queue.IsCompleted;

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

    private void AttachProbes(IReadOnlyList<UnwindHook> unwindHooks)
    {
        var clock = Stopwatch.StartNew();
        var mode = _options.AttachMode == AttachMode.Auto
            ? (TraceProgram.KernelHasMultiLinks ? AttachMode.MultiLink : AttachMode.PerFunction)
            : _options.AttachMode;
        var config = new TraceConfig
        {
            TargetTgid = (uint)ProcessId,
            MinDurationNs = (ulong)Math.Max(0, _options.MinDuration.Nanoseconds),
            MaxDepth = _options.MaxDepth is { } max ? (uint)Math.Max(0, max) : uint.MaxValue,
            WakeupBytes = (ulong)_options.WakeupBytes,
            FilterThreads = _options.ThreadIds is { Count: > 0 } ? 1u : 0u,
            ProtectUnwind = unwindHooks.Count > 0 ? 1u : 0u,
        };
        try
        {
            _program = TraceProgram.Load(config, mode, _options.RingBufferBytes);
        }
        catch (UtraceException ex) when (config.ProtectUnwind != 0 && ex.Kind == TraceErrorKind.PermissionDenied)
        {
            // Writing return addresses back needs bpf_probe_write_user, which kernel lockdown forbids.
            config.ProtectUnwind = 0;
            unwindHooks = [];
            _program = TraceProgram.Load(config, mode, _options.RingBufferBytes);
            Warnings = [UnprotectedExceptionsWarning];
        }
        if (_options.ThreadIds is { Count: > 0 } threads)
            _program.AddThreads(threads);
        _context = TraceContext.StartingNow(Functions);
        _recorder?.Begin(_context, TraceOrigin.Here(Command, ProcessId));
        _patcher = new StackPatcher(ProcessId);
        _reader = new RingBufferReader(_program.EventsMapFd, this);
        _probes = ProbeSet.Attach(_program, ProcessId, Functions, unwindHooks, _options.Progress);
        _reader.Start();
        _attachTime = clock.Elapsed;
    }

    // The hot path: runs on the reader thread for every record.
    void IRecordSink.OnEvent(in EventRecord record)
    {
        _recorder?.OnEvent(record);
        if (!_options.StreamEvents)
            return;
        if (_consumerGone.IsCancellationRequested)
        {
            _droppedByConsumer++;
            return;
        }
        var e = new CallEvent(_context!, record);
        if (_queue.TryAdd(e))
            return;
        try
        {
            _queue.Add(e, _consumerGone.Token);
        }
        catch (OperationCanceledException)
        {
            _droppedByConsumer++;
        }
    }

    void IRecordSink.OnPatch(in PatchHeader header, ReadOnlySpan<PatchWrite> writes) => _patcher!.Apply(header, writes);

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
                _probes?.Dispose();
                _reader?.StopAndDrain();
                stats = _program?.ReadStats() ?? default;
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
                _patcher?.Dispose();
                _program?.Dispose();
                _summary = BuildSummary(state, clock.Elapsed, stats);
                _queue.CompleteAdding();
                Sessions.TryRemove(Id, out _);
                _completion.TrySetResult();
            }
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
        CallsUnwound = (long)stats.Unwound,
        EventsDelivered = Interlocked.Read(ref _delivered),
        EventsSent = (long)stats.Sent,
        EventsRecorded = _options.Recording?.EventsWritten ?? 0,
        EventsDropped = (long)(stats.Lost + stats.TooDeep + stats.NoStack) + _droppedByConsumer + DroppedUnwritten,
        DroppedTooDeep = (long)stats.TooDeep,
        DroppedRingBufferFull = (long)(stats.Lost + stats.NoStack),
        DroppedUnread = _droppedByConsumer,
        DroppedUnwritten = DroppedUnwritten,
        EventsFiltered = (long)stats.Filtered,
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
        file.Failed += _ => Finish(TraceState.Failed);
        if (file.Failure is not null)
            Finish(TraceState.Failed);
    }

    private void WatchAttachedProcess()
    {
        while (!_completion.Task.IsCompleted)
        {
            if (!IsAlive(ProcessId))
            {
                Finish(TraceState.Completed);
                return;
            }
            Thread.Sleep(100);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            // The state follows the command name, which may itself hold spaces or parentheses.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string? ReadCommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllText($"/proc/{pid}/cmdline");
            return raw.Length == 0 ? null : raw.TrimEnd('\0').Replace('\0', ' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static IReadOnlyList<FunctionInfo> SelectOrThrow(FunctionCatalog catalog, TraceOptions options, object target)
    {
        var functions = catalog.Select(options.Selection);
        if (functions.Count == 0)
            throw new UtraceException(TraceErrorKind.NotFound,
                $"No function of {catalog.ExecutableName} matches the selection ({catalog.Own.Count} functions and library calls exist).",
                $"List what can be traced with Get-UTraceFunction, then adjust -Function, -Library or -NestLibrary.", target);
        return functions;
    }

    private const string UnprotectedExceptionsWarning =
        "This kernel does not let Utrace restore return addresses (kernel lockdown forbids bpf_probe_write_user): a C++ exception thrown " +
        "through a traced function will abort the program. Exclude the functions exceptions pass through, and __cxa_throw, with -ExcludeFunction.";
}
