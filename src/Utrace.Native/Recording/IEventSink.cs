namespace Utrace.Native.Recording;

/// <summary>
/// A consumer of every call of a trace, beside the pipeline's CallEvent queue (a trace file): it
/// sees each call the ring buffer delivers, without a CallEvent made for it.
/// </summary>
internal interface IEventSink
{
    /// <summary>Calls kept (for a file: in complete record batches written).</summary>
    long EventsWritten { get; }

    /// <summary>Calls the sink could not take: it was behind, or had failed.</summary>
    long EventsDropped { get; }

    /// <summary>Why the sink stopped taking calls early (a full disk, an I/O error), or null.</summary>
    UtraceException? Failure { get; }

    /// <summary>Raised once, on a pool thread, when the sink fails: the trace ends.</summary>
    event Action<UtraceException>? Failed;

    /// <summary>Called once, when the trace's function table and clock are known, before any call.</summary>
    void Begin(TraceContext context, TraceOrigin origin);

    /// <summary>Called on the ring-buffer reader thread for every call: must not block for long.</summary>
    void OnEvent(in TracedCall call);

    /// <summary>Called after the last call: finishes and closes; never throws (a failure is kept for the summary).</summary>
    void Complete();
}
