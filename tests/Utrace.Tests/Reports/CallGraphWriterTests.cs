using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

public sealed class CallGraphWriterTests
{
    // main (0..1_000_062 ns) { a (1..21) leaf; b (21..1_000_062) { c (22..1_000_022) } }
    private static readonly CallTree Tree = new("main", 1, new CallTree("a", 20),
        new CallTree("b", 40, new CallTree("c", 1_000_000)));

    [Fact]
    public void WritesANestedTreeOnceTheOutermostCallReturns()
    {
        var writer = new CallGraphWriter(flat: false, timestamps: false);
        var calls = Tree.Complete(threadId: 42);
        foreach (var call in calls.SkipLast(1))
            Assert.Empty(writer.Add(call));
        Assert.Equal(
        [
            "           [    42] | main() {",
            "     20 ns [    42] |   a();",
            "           [    42] |   b() {",
            "  1.000 ms [    42] |     c();",
            "  1.000 ms [    42] |   } /* b */",
            "  1.000 ms [    42] | } /* main */",
        ], writer.Add(calls[^1]));
        Assert.Empty(writer.Flush());
        Assert.Equal("# DURATION      TID   FUNCTION", writer.Header);
    }

    [Fact]
    public void WritesTimestampsAndAFlatList()
    {
        var writer = new CallGraphWriter(flat: true, timestamps: true);
        var lines = Tree.Complete(threadId: 42, startNs: 2_000_000_000).SelectMany(c => writer.Add(c)).ToList();
        Assert.Equal(
        [
            "   2.000000000   1.000 ms       1 ns [    42]     0 main",
            "   2.000000001      20 ns      20 ns [    42]     1 a",
            "   2.000000021   1.000 ms      40 ns [    42]     1 b",
            "   2.000000022   1.000 ms   1.000 ms [    42]     2 c",
        ], lines);
        Assert.Equal("#    TIMESTAMP   DURATION       SELF      TID DEPTH FUNCTION", writer.Header);
    }

    [Fact]
    public void FlushesCallsWhoseOutermostCallNeverReturned()
    {
        var writer = new CallGraphWriter(flat: false, timestamps: false);
        Assert.Empty(writer.Add(TestCalls.Of("geo::area(int) const", "prog", 1, 9, 1, 10, 30, 30)));
        Assert.Equal(["     30 ns [     9] |   geo::area(int) const;"], writer.Flush());
    }

    [Fact]
    public void CallsOfACallerThatNeverReturnedAreNotNestedInTheCallBeforeThem()
    {
        // main called printf, then exit(), which ran __cxa_finalize and never returned: neither
        // main nor exit completes, and __cxa_finalize (depth 2) started after printf returned.
        var writer = new CallGraphWriter(flat: false, timestamps: false);
        Assert.Empty(writer.Add(TestCalls.Of("printf", "libc.so.6", 1, 9, 1, 100, 50, 50)));
        Assert.Empty(writer.Add(TestCalls.Of("__cxa_finalize", "libc.so.6", 1, 9, 2, 200, 30, 30)));
        Assert.Equal([
            "     50 ns [     9] |   printf();",
            "     30 ns [     9] |     __cxa_finalize();",
        ], writer.Flush());
    }

    [Fact]
    public void KeepsTheSameThreadIdOfTwoHostsApart()
    {
        // Two trace files read together: host alpha's main has not returned when beta's thread 7,
        // the same process and thread ids, completes a tree of its own.
        var writer = new CallGraphWriter(flat: false, timestamps: false);
        var alpha = new CallTree("main", 1, new CallTree("a", 20)).Complete(threadId: 7, computerName: "alpha");
        var beta = new CallTree("main", 1, new CallTree("b", 30)).Complete(threadId: 7, computerName: "beta");
        Assert.Empty(writer.Add(alpha[0]));
        Assert.Empty(writer.Add(beta[0]));
        Assert.Equal(["           [     7] | main() {", "     30 ns [     7] |   b();", "     31 ns [     7] | } /* main */"], writer.Add(beta[1]));
        Assert.Equal(["           [     7] | main() {", "     20 ns [     7] |   a();", "     21 ns [     7] | } /* main */"], writer.Add(alpha[1]));
    }

    [Fact]
    public void NestsCallsReportedAtTheirEntryInTheOrderTheyCame()
    {
        // Entry-only tracing: each call arrives at its entry, with no duration, caller first.
        var writer = new CallGraphWriter(flat: false, timestamps: false);
        TracedCall Entry(string function, int depth, long start) => TestCalls.Of(function, "prog", 100, 9, depth, start, 0, 0, kind: CallKind.EntryOnly);
        var lines = new[] { Entry("main", 0, 0), Entry("a", 1, 10), Entry("b", 2, 20), Entry("c", 1, 30), Entry("main", 0, 40) }
            .SelectMany(c => writer.Add(c)).ToList();
        lines.AddRange(writer.Flush());
        Assert.Equal(
        [
            "           [     9] | main() {",
            "           [     9] |   a() {",
            "           [     9] |     b();",
            "           [     9] |   } /* a */",
            "           [     9] |   c();",
            "           [     9] | } /* main */",
            "           [     9] | main();",
        ], lines);
    }
}
