using System.Diagnostics;

namespace Utrace.Native.Tracing;

/// <summary>What every CallEvent of one trace shares: the function table and the clock.</summary>
internal sealed class EventContext
{
    private readonly long _localTicksAtMonotonicZero;

    public EventContext(IReadOnlyList<FunctionInfo> functions)
    {
        Functions = functions as FunctionInfo[] ?? functions.ToArray();
        // bpf_ktime_get_ns and Stopwatch both read CLOCK_MONOTONIC on Linux.
        var monotonicNs = MonotonicNowNs();
        _localTicksAtMonotonicZero = DateTime.Now.Ticks - (long)(monotonicNs / 100);
        TraceStartMonotonicNs = monotonicNs;
    }

    /// <summary>Indexed by the function id the BPF program reports.</summary>
    public FunctionInfo[] Functions { get; }

    public ulong TraceStartMonotonicNs { get; }

    public DateTime ToWallClock(ulong monotonicNs) =>
        new(_localTicksAtMonotonicZero + (long)(monotonicNs / 100), DateTimeKind.Local);

    private static ulong MonotonicNowNs() =>
        (ulong)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
}
