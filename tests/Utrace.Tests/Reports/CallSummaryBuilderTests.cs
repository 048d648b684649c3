using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

public sealed class CallSummaryBuilderTests
{
    private static Dictionary<string, FunctionSummary> Summarize(IEnumerable<TracedCall> calls, bool byThread = false)
    {
        var builder = new CallSummaryBuilder(byThread);
        foreach (var call in calls)
            builder.Add(call);
        return builder.Build().ToDictionary(s => byThread ? $"{s.ThreadId}:{s.Function}" : s.Function);
    }

    [Fact]
    public void CountsARecursiveFunctionsTotalOncePerOutermostCall()
    {
        // main(16) -> fib(6) -> fib(5) -> fib(3)
        var tree = new CallTree("main", 10, new CallTree("fib", 1, new CallTree("fib", 2, new CallTree("fib", 3))));
        var summary = Summarize(tree.Complete(threadId: 7));

        var fib = summary["fib"];
        Assert.Equal(3, fib.Calls);
        Assert.Equal(6, fib.Total.Nanoseconds);
        Assert.Equal(6, fib.Self.Nanoseconds);
        Assert.Equal(3, fib.Min.Nanoseconds);
        Assert.Equal(6, fib.Max.Nanoseconds);
        Assert.Equal((3 + 5 + 6) / 3, fib.Average.Nanoseconds);
        Assert.Equal(37.5, fib.TotalPercent);
        Assert.Equal(37.5, fib.SelfPercent);
        Assert.Equal(100, summary["main"].TotalPercent);
        Assert.Equal(62.5, summary["main"].SelfPercent);
        Assert.Null(fib.ThreadId);
    }

    [Fact]
    public void CountsIndirectRecursionAndSiblingsOnce()
    {
        // main -> a(1) -> b(2) -> a(4) -> b(8); then a second outermost a(16)
        var tree = new CallTree("main", 32,
            new CallTree("a", 1, new CallTree("b", 2, new CallTree("a", 4, new CallTree("b", 8)))),
            new CallTree("a", 16));
        var summary = Summarize(tree.Complete(threadId: 7));

        Assert.Equal(15 + 16, summary["a"].Total.Nanoseconds);
        Assert.Equal(1 + 4 + 16, summary["a"].Self.Nanoseconds);
        Assert.Equal(3, summary["a"].Calls);
        Assert.Equal(14, summary["b"].Total.Nanoseconds);
        Assert.Equal(63, summary["main"].Total.Nanoseconds);
        Assert.Equal(["main", "a", "b"], summary.Values.OrderByDescending(s => s.Total).Select(s => s.Function));
    }

    [Fact]
    public void TakesPercentagesOfAllThreadsOrOfEachThread()
    {
        var calls = new CallTree("main", 300, new CallTree("work", 100)).Complete(threadId: 1)
            .Concat(new CallTree("work", 100).Complete(threadId: 2))
            .Concat(new CallTree("work", 100).Complete(threadId: 2, startNs: 1000));

        var all = Summarize(calls);
        Assert.Equal(3, all["work"].Calls);
        Assert.Equal(300, all["work"].Total.Nanoseconds);
        Assert.Equal(50, all["work"].TotalPercent);   // 300 of main 400 + work 200
        Assert.Equal(66.67, all["main"].TotalPercent);

        var byThread = Summarize(calls, byThread: true);
        Assert.Equal(["1:main", "1:work", "2:work"], byThread.Keys.Order());
        Assert.Equal(25, byThread["1:work"].TotalPercent);   // 100 of main 400
        Assert.Equal(100, byThread["2:work"].TotalPercent);
        Assert.Equal(2, byThread["2:work"].Calls);
        Assert.Equal(2, byThread["2:work"].ThreadId);
    }

    [Fact]
    public void TakesCallsWhoseCallerWasNotReported()
    {
        // main's child at depth 1 was filtered out (-MinDuration): c arrives at depth 2.
        var calls = new List<TracedCall>
        {
            TestCalls.Of("c", "prog", 100, 7, 2, 5, 10, 10),
            TestCalls.Of("main", "prog", 100, 7, 0, 0, 40, 20),
        };
        var summary = Summarize(calls);
        Assert.Equal(100, summary["main"].TotalPercent);
        Assert.Equal(25, summary["c"].TotalPercent);
    }
}
