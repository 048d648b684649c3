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
    /// <paramref name="startTime"/> when CLOCK_MONOTONIC reads <paramref name="startMonotonicNs"/>.
    /// <paramref name="captures"/>, when given, holds each function's capture spec (null for none), by id.</summary>
    public TraceContext(IReadOnlyList<FunctionInfo> functions, ulong startMonotonicNs, DateTime startTime, IReadOnlyList<CaptureSpec?>? captures = null)
        : this(functions, startMonotonicNs, Timestamp.FromDateTime(startTime), captures)
    {
    }

    /// <summary>The same, with a start time to the nanosecond (a trace read back from a text export).</summary>
    public TraceContext(IReadOnlyList<FunctionInfo> functions, ulong startMonotonicNs, Timestamp startTime, IReadOnlyList<CaptureSpec?>? captures = null)
    {
        Functions = functions is FunctionInfo[] or GrowingFunctionTable ? functions : functions.ToArray();
        if (captures is not null && captures.Count != Functions.Count)
            throw new ArgumentException($"{captures.Count} capture specs for {Functions.Count} functions: give one per function (null for none).", nameof(captures));
        Captures = captures;
        StartMonotonicNs = startMonotonicNs;
        StartTime = startTime.UtcDateTime;
        _unixNsAtMonotonicZero = startTime.UnixNanoseconds - (long)startMonotonicNs;
    }

    /// <summary>Indexed by the function id the BPF program reports.</summary>
    public IReadOnlyList<FunctionInfo> Functions { get; }

    /// <summary>Each function's capture spec (-Capture), by id; null when the trace captured nothing.</summary>
    public IReadOnlyList<CaptureSpec?>? Captures { get; }

    /// <summary>The capture spec of a function, or null (also for a function added while the trace ran: -Follow, dlopen).</summary>
    public CaptureSpec? CaptureOf(int functionId) => Captures is { } captures && (uint)functionId < (uint)captures.Count ? captures[functionId] : null;

    /// <summary>CLOCK_MONOTONIC (ns) at the start of the trace; event times count from it.</summary>
    public ulong StartMonotonicNs { get; }

    /// <summary>Wall-clock time (UTC) at the start of the trace.</summary>
    public DateTime StartTime { get; }

    /// <summary>The machine the trace was taken on (the kernel's host name up to its first dot); "" when a text export did not say.</summary>
    public string HostName { get; init; } = Environment.MachineName;

    /// <summary>A context whose clock anchor is now (a live trace).</summary>
    public static TraceContext StartingNow(IReadOnlyList<FunctionInfo> functions, IReadOnlyList<CaptureSpec?>? captures = null)
    {
        // bpf_ktime_get_ns and Stopwatch both read CLOCK_MONOTONIC on Linux.
        var monotonicNs = (ulong)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
        return new TraceContext(functions, monotonicNs, DateTime.UtcNow, captures);
    }

    /// <summary>The wall-clock time of a CLOCK_MONOTONIC timestamp of this trace, to the nanosecond.</summary>
    public Timestamp ToWallClock(ulong monotonicNs) => Timestamp.FromUnixNanoseconds(_unixNsAtMonotonicZero + (long)monotonicNs);
}
