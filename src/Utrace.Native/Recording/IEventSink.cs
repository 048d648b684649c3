using Utrace.Native.Bpf;

namespace Utrace.Native.Recording;

/// <summary>
/// A consumer of the raw call records of a trace, beside the pipeline's CallEvent queue: it
/// sees every record the ring buffer delivers, without a CallEvent made for it.
/// </summary>
internal interface IEventSink
{
    /// <summary>Called once, when the trace's function table and clock are known, before any event.</summary>
    void Begin(TraceContext context, TraceOrigin origin);

    /// <summary>
    /// Called on the ring-buffer reader thread for every record, with what was captured of the call
    /// (-Capture) or null: must not block for long.
    /// </summary>
    void OnEvent(in EventRecord record, CapturedCall? captured = null);

    /// <summary>Called after the last event: finishes and closes; never throws (a failure is kept for the summary).</summary>
    void Complete();
}
