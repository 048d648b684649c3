using Utrace.Native.Reports;

namespace Utrace.Tests.Reports;

/// <summary>
/// A call tree written by hand, turned into the calls a tracer would report: in completion
/// order (callee first), each child starting 1 ns after the previous one ended or its parent
/// entered, so every duration and start follows from the self times given.
/// </summary>
internal sealed record CallTree(string Function, long SelfNs, params CallTree[] Children)
{
    public long DurationNs => SelfNs + Children.Sum(c => c.DurationNs);

    public List<TracedCall> Complete(int threadId, long startNs = 0, int depth = 0, int processId = 100, string computerName = "",
        long traceStartUnixNs = 0)
    {
        var calls = new List<TracedCall>();
        Complete(calls, new ThreadKey(computerName, processId, threadId), startNs, depth, traceStartUnixNs);
        return calls;
    }

    private void Complete(List<TracedCall> calls, ThreadKey thread, long startNs, int depth, long traceStartUnixNs)
    {
        var childStart = startNs + (Children.Length > 0 ? 1 : 0);
        foreach (var child in Children)
        {
            child.Complete(calls, thread, childStart, depth + 1, traceStartUnixNs);
            childStart += child.DurationNs;
        }
        calls.Add(TestCalls.Of(Function, "prog", thread.ProcessId, thread.ThreadId, depth, startNs, DurationNs, SelfNs, thread.ComputerName, traceStartUnixNs));
    }
}
