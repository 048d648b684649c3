namespace Utrace;

/// <summary>One function call, emitted when the call returns (or at its entry, when it has no duration).</summary>
public sealed class CallEvent
{
    private readonly TracedCall _call;

    internal CallEvent(in TracedCall call) => _call = call;

    /// <summary>
    /// An event of a trace made by hand: function and caller ids index
    /// <see cref="TraceContext.Functions"/> (caller -1 = outermost call), and the start is
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
        _call = new TracedCall(context, hasDuration ? CallKind.Timed : CallKind.EntryOnly, functionId, callerId, processId, threadId, depth,
            startMonotonicNs, durationNs, selfNs, captured);
    }

    /// <summary>The call as the engine's reports and files take it.</summary>
    internal ref readonly TracedCall Call => ref _call;

    /// <summary>The trace this event belongs to: its function table and clock.</summary>
    internal TraceContext Context => _call.Context;

    /// <summary>Index of <see cref="Function"/> in the trace's function table.</summary>
    internal int FunctionId => _call.FunctionId;

    /// <summary>Index of <see cref="Caller"/> in the trace's function table, or -1.</summary>
    internal int CallerId => _call.CallerId;

    /// <summary>CLOCK_MONOTONIC (ns) at the call's entry.</summary>
    internal ulong StartMonotonicNs => _call.StartMonotonicNs;

    /// <summary>The function's name, demangled.</summary>
    public string Function => _call.Function;

    /// <summary>File name of the ELF the function lives in; for a library call, the library that defines it when known.</summary>
    public string Module => _call.Module;

    /// <summary>File name of the program whose process made the call (with -Follow, each child's own); null in files from before format 1.1.</summary>
    public string? Program => _call.Context.Functions[_call.FunctionId].Program;

    /// <summary>The source file the function is defined in, from the program's debug info (built with -g); null without.</summary>
    public string? SourceFile => _call.Context.Functions[_call.FunctionId].SourceFile;

    /// <summary>The line of <see cref="SourceFile"/> the function starts at; null without debug info.</summary>
    public int? SourceLine => _call.Context.Functions[_call.FunctionId].SourceLine;

    public int ProcessId => _call.ProcessId;
    public int ThreadId => _call.ThreadId;

    /// <summary>The machine the call ran on, by its host name (PowerShell's name for it, as on remoting output).</summary>
    public string ComputerName => _call.ComputerName;

    /// <summary>0 for the outermost traced call of the thread.</summary>
    public int Depth => _call.Depth;

    /// <summary>The traced parent's function name, or null for an outermost call.</summary>
    public string? Caller => _call.CallerId < 0 ? null : _call.Context.Functions[_call.CallerId].Name;

    /// <summary>Wall-clock time of the call's entry, to the nanosecond; prints as local ISO 8601 time.</summary>
    public Timestamp Start => _call.Context.ToWallClock(_call.StartMonotonicNs);

    /// <summary>The program's own time: <see cref="RawDuration"/> minus <see cref="ProbeCost"/>, never negative.</summary>
    public Duration Duration => Duration.FromNanoseconds(DurationNs);

    /// <summary>Duration minus the time spent in traced children.</summary>
    public Duration SelfDuration => Duration.FromNanoseconds(SelfNs);

    /// <summary>Entry to return as measured, Utrace's probes included.</summary>
    public Duration RawDuration => Duration.FromNanoseconds(_call.RawDurationNs);

    /// <summary>
    /// The part of <see cref="RawDuration"/> that is Utrace's probes: the calibrated cost of the traced calls counted
    /// inside the call, plus the part of its own probes between its timestamps; zero when the trace was not calibrated.
    /// </summary>
    public Duration ProbeCost => Duration.FromNanoseconds(_call.Probes.CostNs);

    /// <summary>Traced calls inside this one, at any depth, as the kernel counted them.</summary>
    public int CallsInside => _call.Probes.CallsInside;

    /// <summary>True when the probes took most of the call (more than 80% of its raw duration): Duration is then mostly the estimate's error.</summary>
    public bool ProbeDominated => _call.ProbeDominated;

    /// <summary>
    /// Of <see cref="Duration"/>, the time the thread spent on a CPU (from the scheduler's own accounting): a call that
    /// computed has about its Duration, one that slept, waited or was preempted less. Utrace's probes are taken out, as
    /// from Duration. Null for a call without a duration, and in traces from before it was measured.
    /// </summary>
    public Duration? OnCpu => _call.OnCpuNs < 0 ? null : Duration.FromNanoseconds(_call.OnCpuNs);

    /// <summary>Nanoseconds from the start of the trace to the call's entry.</summary>
    public long StartNs => _call.StartNs;

    public long DurationNs => _call.DurationNs;
    public long SelfNs => _call.SelfNs;
    public long RawDurationNs => _call.RawDurationNs;

    /// <summary>The self time as measured: RawDuration minus the raw durations of the traced children.</summary>
    public long RawSelfNs => _call.RawSelfNs;
    public long ProbeCostNs => _call.Probes.CostNs;
    public long? OnCpuNs => _call.OnCpuNs < 0 ? null : _call.OnCpuNs;

    /// <summary>The time on a CPU as measured, Utrace's probes included (they run on the thread's CPU).</summary>
    public long? RawOnCpuNs => _call.RawOnCpuNs < 0 ? null : _call.RawOnCpuNs;

    /// <summary>
    /// False when the call was reported at its entry, with no duration (entry-only tracing, or a
    /// function such as setjmp that must not get a return probe); Duration is then zero.
    /// </summary>
    public bool HasDuration => _call.HasDuration;

    /// <summary>What the kernel captured of this call, untyped (what a trace file stores), or null.</summary>
    internal CapturedCall? Captured => _call.Captured;

    /// <summary>
    /// The arguments captured by the function's -Capture spec, typed by it (index 0 = first
    /// argument); null when the function has no argument spec.
    /// </summary>
    public CallArguments? Arguments => _call.Arguments;

    /// <summary>
    /// The return value captured by the function's -Capture spec, typed by it; null when the spec
    /// has none, or the return was not seen (entry-only tracing, or a tail call under RetInstruction).
    /// </summary>
    public object? ReturnValue => _call.ReturnValue;

    public override string ToString() => $"{Function} {Duration}";
}
