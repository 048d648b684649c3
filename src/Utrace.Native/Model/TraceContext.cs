using System.Diagnostics;

namespace Utrace;

/// <summary>
/// What every CallEvent of one trace shares: the function table its ids index, and the clock
/// anchor that turns the kernel's CLOCK_MONOTONIC timestamps into wall-clock times. A live
/// trace makes one when it starts; a trace file stores what is needed to make it again.
/// </summary>
public sealed class TraceContext
{
    private readonly long _unixNsAtMonotonicZero;

    /// <summary>A context for <paramref name="functions"/> (indexed by function id) whose clock reads
    /// <paramref name="startTime"/> when CLOCK_MONOTONIC reads <paramref name="startMonotonicNs"/>.</summary>
    public TraceContext(IReadOnlyList<FunctionInfo> functions, ulong startMonotonicNs, DateTime startTime)
        : this(functions, startMonotonicNs, Timestamp.FromDateTime(startTime))
    {
    }

    /// <summary>The same, with a start time to the nanosecond (a trace read back from a text export).</summary>
    public TraceContext(IReadOnlyList<FunctionInfo> functions, ulong startMonotonicNs, Timestamp startTime)
    {
        Functions = functions as FunctionInfo[] ?? functions.ToArray();
        StartMonotonicNs = startMonotonicNs;
        StartTime = startTime.UtcDateTime;
        _unixNsAtMonotonicZero = startTime.UnixNanoseconds - (long)startMonotonicNs;
    }

    /// <summary>Indexed by the function id the BPF program reports.</summary>
    public IReadOnlyList<FunctionInfo> Functions { get; }

    /// <summary>CLOCK_MONOTONIC (ns) at the start of the trace; event times count from it.</summary>
    public ulong StartMonotonicNs { get; }

    /// <summary>Wall-clock time (UTC) at the start of the trace.</summary>
    public DateTime StartTime { get; }

    /// <summary>The machine the trace was taken on (the kernel's host name up to its first dot); "" when a text export did not say.</summary>
    public string HostName { get; init; } = Environment.MachineName;

    /// <summary>A context whose clock anchor is now (a live trace).</summary>
    public static TraceContext StartingNow(IReadOnlyList<FunctionInfo> functions)
    {
        // bpf_ktime_get_ns and Stopwatch both read CLOCK_MONOTONIC on Linux.
        var monotonicNs = (ulong)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
        return new TraceContext(functions, monotonicNs, DateTime.UtcNow);
    }

    /// <summary>The wall-clock time of a CLOCK_MONOTONIC timestamp of this trace, to the nanosecond.</summary>
    public Timestamp ToWallClock(ulong monotonicNs) => Timestamp.FromUnixNanoseconds(_unixNsAtMonotonicZero + (long)monotonicNs);
}
