using Utrace.Native.Tracing;
using Xunit;

namespace Utrace.Tests.Tracing;

public sealed class KernelCountersTests
{
    // struct utrace_stats by slot: sent, lost, too_deep, filtered, no_stack, unmatched, unwound, patches,
    // patch_lost, outermost_ns, captures_lost.
    private static readonly ulong[] Counters = [1000, 10, 20, 30, 40, 50, 60, 70, 80, 90_000, 100];

    [Fact]
    public void EachCounterGoesToItsPropertyAndTheKernelsDropsAddUpWithTheEnginesOwn()
    {
        var summary = KernelCounters.Apply(new TraceSummary { Id = 7, DroppedUnread = 2, DroppedUnwritten = 3 }, Counters);

        Assert.Equal(
            (7, 1000L, 10L, 20L, 30L, 40L, 50L, 60L, 70L, 80L, 90_000L, 100L),
            (summary.Id, summary.EventsSent, summary.DroppedRingBufferFull, summary.DroppedTooDeep, summary.EventsFiltered, summary.DroppedNoThreadStack,
             summary.ReturnsUnmatched, summary.CallsUnwound, summary.StackPatches, summary.StackPatchesFailed, summary.OutermostNs, summary.CapturesLost));
        // lost + too_deep + no_stack, the unread and the unwritten.
        Assert.Equal(10 + 20 + 40 + 2 + 3, summary.EventsDropped);
    }

    [Fact]
    public void ASlotTheKernelDidNotSendCountsZero()
    {
        var summary = KernelCounters.Apply(new TraceSummary { DroppedUnread = 4 }, Counters.AsSpan(0, 2));

        Assert.Equal((1000L, 10L, 0L, 0L), (summary.EventsSent, summary.DroppedRingBufferFull, summary.DroppedTooDeep, summary.CapturesLost));
        Assert.Equal(14, summary.EventsDropped);
    }
}
