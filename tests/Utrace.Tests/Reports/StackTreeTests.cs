using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

public sealed class StackTreeTests
{
    private static List<string> Fold(IEnumerable<TracedCall> calls)
    {
        var tree = new StackTree();
        foreach (var call in calls)
            tree.Add(call);
        return tree.Complete().ToFolded().ToList();
    }

    [Fact]
    public void FoldsAKnownTreeLineByLine()
    {
        var tree = new CallTree("main", 5,
            new CallTree("a", 3, new CallTree("b", 2, new CallTree("c", 50))),
            new CallTree("fib", 1, new CallTree("fib", 2, new CallTree("fib", 3))),
            new CallTree("a", 4));
        Assert.Equal(
            ["main 5", "main;a 7", "main;a;b 2", "main;a;b;c 50", "main;fib 1", "main;fib;fib 2", "main;fib;fib;fib 3"],
            Fold(tree.Complete(threadId: 1)));
    }

    [Fact]
    public void MergesTheSameStackAcrossThreadsAndRuns()
    {
        var calls = new CallTree("main", 10, new CallTree("work", 1)).Complete(threadId: 1)
            .Concat(new CallTree("work", 100).Complete(threadId: 2, depth: 1))
            .Concat(new CallTree("run", 1, new CallTree("work", 20)).Complete(threadId: 3))
            .Concat(new CallTree("run", 2, new CallTree("work", 30)).Complete(threadId: 3, startNs: 500));
        // Thread 2's work never sees its caller: it stands as its own stack.
        Assert.Equal(["main 10", "main;work 1", "run 3", "run;work 50", "work 100"], Fold(calls));
    }

    [Fact]
    public void KeepsACallWhoseCallerWasUnwoundOutOfTheNextCallAtThatDepth()
    {
        // main calls inner, inner calls deeper, deeper calls helper and longjmps back to main
        // (inner and deeper are unwound, never reported); then main calls after. helper started
        // before after did: it is not after's callee.
        TracedCall Call(string function, int depth, long start, long duration, long self) =>
            TestCalls.Of(function, "prog", 100, 100, depth, start, duration, self);
        var calls = new[] { Call("helper", 3, 30, 5, 5), Call("after", 1, 50, 7, 7), Call("main", 0, 0, 100, 88) };
        Assert.Equal(["main 88", "main;after 7", "main;helper 5"], Fold(calls));
    }

    [Fact]
    public void KeepsTheSameThreadIdOfTwoHostsApart()
    {
        // alpha's leaf waits for its caller while beta's thread 1 completes main: the leaf is not beta's.
        var alpha = new CallTree("run", 1, new CallTree("leaf", 4)).Complete(threadId: 1, computerName: "alpha");
        var beta = new CallTree("main", 2).Complete(threadId: 1, computerName: "beta");
        Assert.Equal(["main 2", "run 1", "run;leaf 4"], Fold([alpha[0], beta[0], alpha[1]]));
    }

    [Fact]
    public void KeepsOneFramePerDistinctStackNotPerCall()
    {
        var tree = new StackTree();
        for (var i = 0; i < 10_000; i++)
            foreach (var call in new CallTree("loop", 1, new CallTree("step", 2)).Complete(threadId: 1, startNs: i * 10, depth: 1))
                tree.Add(call);
        tree.Add(TestCalls.Of("main", "prog", 100, 1, 0, 0, 100_000, 70_000));
        var main = Assert.Single(tree.Root.Children);
        var loop = Assert.Single(main.Children);
        Assert.Equal(10_000, loop.SelfNs);
        Assert.Equal(20_000, Assert.Single(loop.Children).SelfNs);
        Assert.Equal(["main 70000", "main;loop 10000", "main;loop;step 20000"], tree.ToFolded());
    }
}
