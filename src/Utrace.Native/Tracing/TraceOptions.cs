using Utrace.Native.Bpf;
using Utrace.Native.Recording;

namespace Utrace.Native.Tracing;

/// <summary>What to trace and what to send up from the kernel.</summary>
internal sealed class TraceOptions
{
    /// <summary>The trace's id, which its summary carries: the caller numbers its traces (0 when it does not).</summary>
    public int TraceId { get; init; }

    /// <summary>Functions to attach probes to; all by default.</summary>
    public FunctionSelection Selection { get; init; } = FunctionSelection.All;

    /// <summary>Calls shorter than this are dropped in the kernel.</summary>
    public Duration MinDuration { get; init; }

    /// <summary>Calls deeper than this (0 = outermost) are not reported; depth is still counted.</summary>
    public int? MaxDepth { get; init; }

    /// <summary>Only these threads are traced, filtered in the kernel.</summary>
    public IReadOnlyList<int>? ThreadIds { get; init; }

    public AttachMode AttachMode { get; init; } = AttachMode.Auto;

    /// <summary>How the end of a call is seen; Auto avoids return probes where they would change what the program computes.</summary>
    public ReturnMode ReturnMode { get; init; } = ReturnMode.Auto;

    /// <summary>
    /// Aggregate calls per function in the kernel (calls, total, self, min, max, a latency
    /// histogram) instead of sending one event per call: <see cref="TraceSession.FunctionSummaries"/>.
    /// </summary>
    public bool SummaryOnly { get; init; }

    /// <summary>
    /// Also trace every process the program forks, and the programs they exec (strace -f), with
    /// the same selection; the trace ends when the first process and every follower have exited.
    /// </summary>
    public bool Follow { get; init; }

    /// <summary>
    /// Arguments and return values to capture, by function: every rule must match a traced
    /// function, and rules that match the same function must give the same spec.
    /// </summary>
    public IReadOnlyList<CaptureRule>? Captures { get; init; }

    /// <summary>The user a launched command runs as; null: the tracer's own user.</summary>
    public UserAccount? RunAs { get; init; }

    /// <summary>
    /// Receives, on a thread of its own, each line a launched program writes to stdout or stderr;
    /// the program's stdin is then empty. Null: the program shares the tracer's stdin, stdout and
    /// stderr, which a remote session's PowerShell must not do (they carry the remoting protocol).
    /// </summary>
    public Action<ProgramOutputLine>? ProgramOutput { get; init; }

    /// <summary>
    /// Events held for a slow consumer before the reader stops emptying the ring buffer; they are
    /// queued in batches of 256, so this is rounded down to whole batches (at least one).
    /// </summary>
    public int QueueCapacity { get; init; } = 1 << 20;

    /// <summary>
    /// Size of the kernel's ring buffer (a power of two, at least 4 KiB): how many events (88 bytes
    /// each) wait for the reader before the kernel drops, and counts, new ones. Null: 16 MiB, or
    /// 64 MiB when arguments are captured (a captured call takes 3 to 8 times the bytes of a plain
    /// one, so the default ring still holds as many calls while the reader is held up).
    /// </summary>
    public int? RingBufferBytes
    {
        get => _ringBufferBytes;
        init => _ringBufferBytes = value is null || (value >= 4096 && int.IsPow2(value.Value))
            ? value
            : throw new ArgumentOutOfRangeException(nameof(RingBufferBytes), value, "The ring buffer size must be a power of two of at least 4096 bytes.");
    }

    private readonly int? _ringBufferBytes;

    public const int DefaultRingBufferBytes = 16 << 20;

    /// <summary>The ring's size when nothing else is said and a function has a capture spec.</summary>
    public const int CaptureRingBufferBytes = 64 << 20;

    /// <summary>Told as probe links are attached and detached, from whichever thread does it.</summary>
    public IProgress<TraceProgress>? Progress { get; init; }

    /// <summary>Also writes every event to this trace file; its failure ends the trace.</summary>
    internal IEventSink? Recording { get; init; }

    /// <summary>Queue a CallEvent per call for <see cref="TraceSession.ReadEvents"/>; off when only recording.</summary>
    public bool StreamEvents { get; init; } = true;

    /// <summary>
    /// Take the probes' cost out of each call's duration, with the figures of a calibration run on this machine (made
    /// once, then cached); off for the calibration run itself, and for summary-only and entry-only traces, which the
    /// kernel sums or does not time.
    /// </summary>
    public bool AccountProbeCost { get; init; } = true;

    /// <summary>
    /// Stop probing a function once its probes have cost more than this share of the program's time (after a minimum
    /// of calls); null: every function stays probed, and counts stay exact.
    /// </summary>
    public ProbeBudget? Budget { get; init; }

    /// <summary>Wake the reader once this many bytes of events wait in the ring buffer.</summary>
    public int WakeupBytes { get; init; } = 64 * 1024;
}
