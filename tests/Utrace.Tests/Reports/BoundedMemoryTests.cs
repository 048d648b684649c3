using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

// Tests that measure the managed heap run alone: another test's allocations would count in it.
[CollectionDefinition(nameof(BoundedMemoryTests), DisableParallelization = true)]
public sealed class BoundedMemoryCollection;

/// <summary>The summary and the flame graph aggregate as calls arrive: what they hold does not grow with the calls.</summary>
[Collection(nameof(BoundedMemoryTests))]
public sealed class BoundedMemoryTests
{
    private const int CallsPerRequest = 4;

    [Fact]
    public void HoldTheSameMemoryAfterFourMillionMoreCalls()
    {
        var summary = new CallSummaryBuilder(byThread: false);
        var stacks = new StackTree();
        var next = 0L;
        void Feed(int requests)
        {
            for (var i = 0; i < requests; i++, next++)
            {
                // Two threads, a distinct duration per request: nothing repeats but the stacks.
                var tree = new CallTree("handle", 1 + next % 7, new CallTree("parse", 2), new CallTree("work", 3, new CallTree("hash", next % 13)));
                foreach (var call in tree.Complete(threadId: (int)(next % 2), startNs: next * 100))
                {
                    summary.Add(call);
                    stacks.Add(call);
                }
            }
        }

        Feed(10_000);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        Feed(1_000_000);
        var after = GC.GetTotalMemory(forceFullCollection: true);

        // Keeping the 4 million calls would take over 100 MB.
        Assert.InRange(after - before, long.MinValue, 1 << 20);
        Assert.Equal(1_010_000L * CallsPerRequest, summary.Build().Sum(s => s.Calls));
        Assert.Equal(["handle", "handle;parse", "handle;work", "handle;work;hash"], stacks.Complete().ToFolded().Select(l => l[..l.IndexOf(' ')]));
    }
}
