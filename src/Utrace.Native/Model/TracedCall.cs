using Utrace.Native.Elf;
namespace Utrace;

/// <summary>
/// One call as everything after capture sees it, whatever it came from: the ring buffer, a row of
/// a trace file, or a CallEvent read back from a text export. A value, so the per-event path
/// makes no object for it; its ids index <see cref="Context"/>'s function table.
/// </summary>
internal readonly struct TracedCall
{
    /// <summary>A call's <see cref="RawOnCpuNs"/> when its time on a CPU is not known.</summary>
    public const long UnknownOnCpu = -1;

    /// <summary>
    /// <paramref name="callerId"/> is -1 for an outermost call; <paramref name="startMonotonicNs"/>
    /// is CLOCK_MONOTONIC, like <see cref="TraceContext.StartMonotonicNs"/>.
    /// </summary>
    public TracedCall(TraceContext context, CallKind kind, int functionId, int callerId, int processId, int threadId, int depth,
        ulong startMonotonicNs, long durationNs, long selfNs, CapturedCall? captured = null, ProbeAccount probes = default,
        long rawOnCpuNs = UnknownOnCpu)
    {
        Context = context;
        Kind = kind;
        FunctionId = functionId;
        CallerId = callerId;
        ProcessId = processId;
        ThreadId = threadId;
        Depth = depth;
        StartMonotonicNs = startMonotonicNs;
        RawDurationNs = durationNs;
        RawSelfNs = selfNs;
        Captured = captured;
        Probes = probes;
        RawOnCpuNs = rawOnCpuNs;
    }

    /// <summary>The trace the call belongs to: its function table, clock and host.</summary>
    public TraceContext Context { get; }

    public CallKind Kind { get; }
    public int FunctionId { get; }

    /// <summary>The traced caller's function id, or -1 for an outermost call.</summary>
    public int CallerId { get; }

    public int ProcessId { get; }
    public int ThreadId { get; }
    public int Depth { get; }
    public ulong StartMonotonicNs { get; }

    /// <summary>Entry to return as measured, the probes' cost included; 0 for an entry-only call.</summary>
    public long RawDurationNs { get; }

    /// <summary>As measured: the raw duration minus the raw durations of the traced children.</summary>
    public long RawSelfNs { get; }

    /// <summary>What Utrace's probes took of the call's time, and the traced calls counted inside it.</summary>
    public ProbeAccount Probes { get; }

    /// <summary>
    /// Of the raw duration, the time the thread spent on a CPU, Utrace's probes included (they run on the thread's CPU);
    /// <see cref="UnknownOnCpu"/> for an entry-only call, and in traces from before it was measured.
    /// </summary>
    public long RawOnCpuNs { get; }

    /// <summary>The program's own time on a CPU: the raw on-CPU time minus the probes' cost, within [0, DurationNs]; or <see cref="UnknownOnCpu"/>.</summary>
    public long OnCpuNs => RawOnCpuNs < 0 ? UnknownOnCpu : Math.Min(DurationNs, ProbeAccount.OwnTime(RawOnCpuNs, Probes.CostNs));

    /// <summary>The program's own time: the raw duration minus the probes' cost, never negative.</summary>
    public long DurationNs => ProbeAccount.OwnTime(RawDurationNs, Probes.CostNs);

    /// <summary>The program's own self time: the raw self time minus the probes' cost in it, never negative nor past DurationNs.</summary>
    public long SelfNs => ProbeAccount.OwnSelfTime(RawSelfNs, Probes.SelfCostNs, DurationNs);

    /// <summary>True when the probes took so much of the call that <see cref="DurationNs"/> is mostly the estimate's error.</summary>
    public bool ProbeDominated => Probes.Dominates(RawDurationNs);

    /// <summary>What the kernel captured of the call (-Capture), or null.</summary>
    public CapturedCall? Captured { get; }

    public bool HasDuration => Kind == CallKind.Timed;

    public string Function => Context.Functions[FunctionId].Name;
    public string Module => Context.Functions[FunctionId].Module;
    public string ComputerName => Context.HostName;

    /// <summary>Nanoseconds from the start of the call's trace to its entry.</summary>
    public long StartNs => (long)(StartMonotonicNs - Context.StartMonotonicNs);

    /// <summary>Wall-clock time (Unix ns) at the start of the call's trace.</summary>
    public long TraceStartUnixNs => Context.ToWallClock(Context.StartMonotonicNs).UnixNanoseconds;

    /// <summary>
    /// StartNs counts from the start of the call's own trace; this counts from the start of
    /// <paramref name="firstTraceStartUnixNs"/>'s, so that calls of traces read together keep
    /// their order in time (the clocks of two hosts agree only as much as their wall clocks do).
    /// </summary>
    public long StartNsSince(long firstTraceStartUnixNs) => StartNs + (TraceStartUnixNs - firstTraceStartUnixNs);

    /// <summary>Nanoseconds since 1970 (UTC) at the call's entry: one time line for calls of several traces.</summary>
    public long StartUnixNs => TraceStartUnixNs + StartNs;

    /// <summary>The captured arguments, typed by the function's capture spec; null when nothing was captured.</summary>
    public CallArguments? Arguments => Captured is { } captured ? Context.CaptureOf(FunctionId)?.ArgumentsOf(captured) : null;

    /// <summary>The captured return value, typed by the function's capture spec; null when none was captured.</summary>
    public object? ReturnValue => Captured is { } captured ? Context.CaptureOf(FunctionId)?.ReturnValueOf(captured) : null;

    /// <summary>The captured values, named as the viewers show them: arg0, arg1, ... and return; NULL and skipped arguments left out.</summary>
    public IEnumerable<(string Name, object Value)> CapturedValues()
    {
        var arguments = Arguments;
        for (var i = 0; i < (arguments?.Count ?? 0); i++)
        {
            if (arguments![i] is { } value)
                yield return (string.Create(System.Globalization.CultureInfo.InvariantCulture, $"arg{i}"), value);
        }
        if (ReturnValue is { } returned)
            yield return ("return", returned);
    }

    /// <summary>Where the function is in its source (debug info), or null.</summary>
    public SourceLocation? Source => Context.Functions[FunctionId].Source;

    /// <summary>The function's source file and line, named as the viewers show them (file, line); nothing without debug info.</summary>
    public IEnumerable<(string Name, object Value)> SourceValues()
    {
        if (Source is { } source)
        {
            yield return ("file", source.File);
            yield return ("line", source.Line);
        }
    }

    /// <summary>Identifies the thread across processes and hosts (two machines can run the same process ids).</summary>
    public ThreadKey ThreadKey => new(ComputerName, ProcessId, ThreadId);
}

/// <summary>One thread of one process of one host.</summary>
internal readonly record struct ThreadKey(string ComputerName, int ProcessId, int ThreadId);
