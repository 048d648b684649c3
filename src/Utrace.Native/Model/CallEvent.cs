using Utrace.Native.Bpf;
using Utrace.Native.Tracing;

namespace Utrace;

/// <summary>One completed function call, emitted when the call returns.</summary>
public sealed class CallEvent
{
    private readonly TraceContext _context;
    private readonly ulong _startMonotonicNs;
    private readonly int _functionId;
    private readonly int _callerId;
    private readonly CapturedCall? _captured;

    internal CallEvent(TraceContext context, in EventRecord record, CapturedCall? captured = null)
        : this(context, (int)record.FunctionId, record.CallerId == EventRecord.NoCaller ? -1 : (int)record.CallerId,
            (int)record.Pid, (int)record.Tid, (int)record.Depth, record.StartNs, (long)record.DurationNs, (long)record.SelfNs,
            hasDuration: record.Type == RecordType.Call, captured)
    {
    }

    /// <summary>
    /// An event of a trace read back (from a file) or made by hand: function and caller ids
    /// index <see cref="TraceContext.Functions"/> (caller -1 = outermost call), and the start is
    /// CLOCK_MONOTONIC in ns, like <see cref="TraceContext.StartMonotonicNs"/>. An event without a
    /// duration (<paramref name="hasDuration"/> false) was reported at the call's entry.
    /// <paramref name="captured"/> holds its arguments and return value, typed by the function's
    /// spec in <see cref="TraceContext.Captures"/>.
    /// </summary>
    public CallEvent(TraceContext context, int functionId, int callerId, int processId, int threadId, int depth,
        ulong startMonotonicNs, long durationNs, long selfNs, bool hasDuration = true, CapturedCall? captured = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        if ((uint)functionId >= (uint)context.Functions.Count)
            throw new ArgumentOutOfRangeException(nameof(functionId), functionId, "No function of the trace has this id.");
        if (callerId >= context.Functions.Count || callerId < -1)
            throw new ArgumentOutOfRangeException(nameof(callerId), callerId, "No function of the trace has this id.");
        _context = context;
        _startMonotonicNs = startMonotonicNs;
        _functionId = functionId;
        _callerId = callerId;
        ProcessId = processId;
        ThreadId = threadId;
        Depth = depth;
        DurationNs = durationNs;
        SelfNs = selfNs;
        HasDuration = hasDuration;
        _captured = captured;
    }


    /// <summary>The trace this event belongs to: its function table and clock.</summary>
    internal TraceContext Context => _context;

    /// <summary>Index of <see cref="Function"/> in the trace's function table.</summary>
    internal int FunctionId => _functionId;

    /// <summary>Index of <see cref="Caller"/> in the trace's function table, or -1.</summary>
    internal int CallerId => _callerId;

    /// <summary>CLOCK_MONOTONIC (ns) at the call's entry.</summary>
    internal ulong StartMonotonicNs => _startMonotonicNs;

    /// <summary>The function's name, demangled.</summary>
    public string Function => _context.Functions[_functionId].Name;

    /// <summary>File name of the ELF the function lives in; for a library call, the library that defines it when known.</summary>
    public string Module => _context.Functions[_functionId].Module;

    public int ProcessId { get; }
    public int ThreadId { get; }

    /// <summary>The machine the call ran on, by its host name (PowerShell's name for it, as on remoting output).</summary>
    public string ComputerName => _context.HostName;

    /// <summary>0 for the outermost traced call of the thread.</summary>
    public int Depth { get; }

    /// <summary>The traced parent's function name, or null for an outermost call.</summary>
    public string? Caller => _callerId < 0 ? null : _context.Functions[_callerId].Name;

    /// <summary>Wall-clock time of the call's entry, to the nanosecond; prints as local ISO 8601 time.</summary>
    public Timestamp Start => _context.ToWallClock(_startMonotonicNs);

    public Duration Duration => Duration.FromNanoseconds(DurationNs);

    /// <summary>Duration minus the time spent in traced children.</summary>
    public Duration SelfDuration => Duration.FromNanoseconds(SelfNs);

    /// <summary>Nanoseconds from the start of the trace to the call's entry.</summary>
    public long StartNs => (long)(_startMonotonicNs - _context.StartMonotonicNs);

    public long DurationNs { get; }
    public long SelfNs { get; }

    /// <summary>
    /// False when the call was reported at its entry, with no duration (entry-only tracing, or a
    /// function such as setjmp that must not get a return probe); Duration is then zero.
    /// </summary>
    public bool HasDuration { get; }

    /// <summary>What the kernel captured of this call, untyped (what a trace file stores), or null.</summary>
    internal CapturedCall? Captured => _captured;

    /// <summary>
    /// The arguments captured by the function's -Capture spec, typed by it (index 0 = first
    /// argument); null when the function has no argument spec.
    /// </summary>
    public CallArguments? Arguments => _captured is { } captured ? _context.CaptureOf(_functionId)?.ArgumentsOf(captured) : null;

    /// <summary>
    /// The return value captured by the function's -Capture spec, typed by it; null when the spec
    /// has none, or the return was not seen (entry-only tracing, or a tail call under RetInstruction).
    /// </summary>
    public object? ReturnValue => _captured is { } captured ? _context.CaptureOf(_functionId)?.ReturnValueOf(captured) : null;

    public override string ToString() => $"{Function} {Duration}";
}
