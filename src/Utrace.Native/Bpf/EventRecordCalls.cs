namespace Utrace.Native.Bpf;

/// <summary>Where the kernel's call record becomes the engine's call: nothing after the ring buffer reads the wire struct.</summary>
internal static class EventRecordCalls
{
    public static TracedCall ToTracedCall(this in EventRecord record, TraceContext context, CapturedCall? captured)
    {
        var timed = record.Type != RecordType.Entry;
        return new(context, timed ? CallKind.Timed : CallKind.EntryOnly,
            (int)record.FunctionId, record.CallerId == EventRecord.NoCaller ? -1 : (int)record.CallerId,
            (int)record.Pid, (int)record.Tid, (int)record.Depth, record.StartNs, (long)record.DurationNs, (long)record.SelfNs, captured,
            timed ? new ProbeAccount((long)record.ProbeCostNs, (long)record.SelfProbeCostNs, (int)record.CallsInside) : default);
    }
}
