using Utrace.Native.Bpf;

namespace Utrace.Native.Tracing;

/// <summary>What to trace and what to send up from the kernel.</summary>
public sealed class TraceOptions
{
    /// <summary>Functions to attach probes to; all by default.</summary>
    public FunctionSelection Selection { get; init; } = FunctionSelection.All;

    /// <summary>Calls shorter than this are dropped in the kernel.</summary>
    public Duration MinDuration { get; init; }

    /// <summary>Calls deeper than this (0 = outermost) are not reported; depth is still counted.</summary>
    public int? MaxDepth { get; init; }

    /// <summary>Only these threads are traced, filtered in the kernel.</summary>
    public IReadOnlyList<int>? ThreadIds { get; init; }

    public AttachMode AttachMode { get; init; } = AttachMode.Auto;

    /// <summary>Events held for a slow consumer before the reader stops emptying the ring buffer.</summary>
    public int QueueCapacity { get; init; } = 1 << 20;

    /// <summary>Told as probe links are attached and detached, from whichever thread does it.</summary>
    public IProgress<TraceProgress>? Progress { get; init; }

    /// <summary>Wake the reader once this many bytes of events wait in the ring buffer.</summary>
    public int WakeupBytes { get; init; } = 64 * 1024;
}
