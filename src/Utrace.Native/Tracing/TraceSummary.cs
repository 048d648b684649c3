using Utrace.Native.Bpf;

namespace Utrace;

public enum TraceState
{
    Running,
    /// <summary>The traced program exited.</summary>
    Completed,
    /// <summary>Stopped by the user: probes detached, a launched program terminated.</summary>
    Stopped,
    Failed,
}

/// <summary>What a trace did: what it delivered, what it lost and why.</summary>
public sealed record TraceSummary
{
    public int Id { get; init; }
    public int ProcessId { get; init; }
    public string Command { get; init; } = "";
    public TraceState State { get; init; }
    /// <summary>Exit code of a launched program (128 + N when signal N ended it); null when attached by pid or still running.</summary>
    public int? ExitCode { get; init; }
    public int FunctionCount { get; init; }
    public AttachMode AttachMode { get; init; }
    /// <summary>How the end of a call was seen (Auto resolved).</summary>
    public Utrace.ReturnMode ReturnMode { get; init; }
    /// <summary>Selected functions left without probes: the kernel cannot probe their instructions (named in a warning).</summary>
    public int FunctionsNotProbed { get; init; }
    /// <summary>Functions no longer probed after their probes went over -ProbeBudget: when, and after how many calls.</summary>
    public IReadOnlyList<DroppedFunction> DroppedFunctions { get; init; } = [];
    /// <summary>Probe links (or perf uprobes) created: two per binary with multi links.</summary>
    public int LinkCount { get; init; }
    /// <summary>Events handed to the consumer.</summary>
    public long EventsDelivered { get; init; }
    /// <summary>Events written to the trace file (-OutFile).</summary>
    public long EventsRecorded { get; init; }
    /// <summary>Calls that were not reported although they matched: ring buffer full, too deep, consumer gone.</summary>
    public long EventsDropped { get; init; }
    /// <summary>Of the dropped: calls nested deeper than the kernel keeps return probes for (64 traced frames).</summary>
    [KernelCounter("too_deep", 16, Dropped = true)]
    public long DroppedTooDeep { get; init; }
    /// <summary>Of the dropped: records the full ring buffer refused.</summary>
    [KernelCounter("lost", 8, Dropped = true)]
    public long DroppedRingBufferFull { get; init; }
    /// <summary>Of the dropped: calls of threads whose call stack the kernel could not allocate.</summary>
    [KernelCounter("no_stack", 32, Dropped = true)]
    public long DroppedNoThreadStack { get; init; }
    /// <summary>Returns that matched no recorded entry (the entry came before the trace, or was dropped).</summary>
    [KernelCounter("unmatched", 40)]
    public long ReturnsUnmatched { get; init; }
    /// <summary>Stack patches made for C++ exceptions through return probes (each stops the process briefly).</summary>
    [KernelCounter("patches", 56)]
    public long StackPatches { get; init; }
    /// <summary>Stack patches that could not be made: the ring was full or the process had gone.</summary>
    [KernelCounter("patch_lost", 64)]
    public long StackPatchesFailed { get; init; }
    /// <summary>Of the dropped: events read after the consumer stopped reading.</summary>
    public long DroppedUnread { get; init; }
    /// <summary>Of the dropped: events the trace file's writer could not take in time, or after writing failed.</summary>
    public long DroppedUnwritten { get; init; }
    /// <summary>Calls the kernel dropped on purpose: -MinDuration and -MaxDepth.</summary>
    [KernelCounter("filtered", 24)]
    public long EventsFiltered { get; init; }
    /// <summary>
    /// Captured arguments, strings or return values the full ring buffer refused (-Capture): their
    /// calls are reported without them (a string as unreadable).
    /// </summary>
    [KernelCounter("captures_lost", 80)]
    public long CapturesLost { get; init; }
    /// <summary>Calls that ended without returning: unwound by a C++ exception, or left by longjmp.</summary>
    [KernelCounter("unwound", 48)]
    public long CallsUnwound { get; init; }
    /// <summary>Records that crossed the ring buffer from the kernel.</summary>
    [KernelCounter("sent", 0)]
    public long EventsSent { get; init; }
    /// <summary>
    /// With -Summary, the per-function figures the trace writes as output when it ends; kept here
    /// too, since after Ctrl+C nothing more can be written (-SummaryVariable still gets them).
    /// </summary>
    public IReadOnlyList<FunctionSummary> Functions { get; init; } = [];

    /// <summary>-Summary: the summed durations of outermost calls, the time the trace saw its functions run.</summary>
    [KernelCounter("outermost_ns", 72)]
    internal long OutermostNs { get; init; }
    public TimeSpan AttachTime { get; init; }
    /// <summary>
    /// From the trace's end until its probes are detached; not the delivery of the events still
    /// queued after that, which goes at the consumer's pace.
    /// </summary>
    public TimeSpan DetachTime { get; init; }
    public DateTime StartTime { get; init; }
    public DateTime? EndTime { get; init; }
}
