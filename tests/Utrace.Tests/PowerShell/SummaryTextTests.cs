using Utrace.PowerShell;
using Xunit;

namespace Utrace.Tests.PowerShell;

public sealed class SummaryTextTests
{
    [Fact]
    public void SaysNothingWhenNothingWasDropped() =>
        Assert.Null(SummaryText.Drops(new TraceSummary { EventsDelivered = 10 }));

    [Fact]
    public void NamesEachReasonWithWhatToDo()
    {
        var text = SummaryText.Drops(new TraceSummary
        {
            EventsDropped = 6, DroppedTooDeep = 1, DroppedRingBufferFull = 2, DroppedUnread = 3,
        });
        Assert.Equal("6 calls were not reported: 1 nested deeper than the kernel's 64 return probes per thread " +
            "(trace fewer functions with -Function or -ExcludeFunction); 2 found the ring buffer full (filter in the kernel " +
            "with -MinDuration, -MaxDepth or a narrower -Function); 3 arrived after the pipeline stopped reading.", text);
    }

    [Fact]
    public void SaysWhenCapturedValuesWereLost()
    {
        Assert.Null(SummaryText.CapturesLost(new TraceSummary { EventsDelivered = 10 }));
        Assert.Equal("3 capture records (arguments, strings, return values) found the ring buffer full. A call that lost its arguments " +
            "has Arguments $null, one that lost a string shows it as unreadable, one that lost its return value has ReturnValue $null; " +
            "calls whose own record was lost too are counted as dropped. Capture fewer functions, or filter in the kernel with " +
            "-MinDuration or -MaxDepth.",
            SummaryText.CapturesLost(new TraceSummary { CapturesLost = 3 }));
    }

    [Fact]
    public void SaysWhenTheTraceFileCouldNotTakeEvents()
    {
        var text = SummaryText.Drops(new TraceSummary { EventsRecorded = 100, EventsDropped = 7, DroppedUnwritten = 7 });
        Assert.Equal("7 calls were not reported: 7 could not be written to the trace file (the disk was too slow, or writing failed).", text);
    }
}
