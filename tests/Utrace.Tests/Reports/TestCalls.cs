namespace Utrace.Tests.Reports;

/// <summary>Calls made by hand for the report tests, each in a trace of its own named function.</summary>
internal static class TestCalls
{
    public static TracedCall Of(string function, string module, int processId, int threadId, int depth, long startNs, long durationNs, long selfNs,
        string computerName = "", long traceStartUnixNs = 0, CallKind kind = CallKind.Timed)
    {
        var context = new TraceContext([new FunctionInfo(function, function, module, FunctionKind.Function, 0, 0, "")], 0,
            Timestamp.FromUnixNanoseconds(traceStartUnixNs)) { HostName = computerName };
        return new TracedCall(context, kind, 0, -1, processId, threadId, depth, (ulong)startNs, durationNs, selfNs);
    }
}
