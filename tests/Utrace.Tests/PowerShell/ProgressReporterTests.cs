using System.Management.Automation;
using Utrace.Native.Tracing;
using Utrace.PowerShell;
using Xunit;

namespace Utrace.Tests.PowerShell;

public sealed class ProgressReporterTests
{
    [Fact]
    public void AStageFinishedWithinTheDelayShowsNothing()
    {
        var written = new List<ProgressRecord>();
        var reporter = new ProgressReporter("./fib", written.Add, null, TimeSpan.FromHours(1));
        reporter.Report(new TraceProgress(TraceStage.Attaching, 0, 2));
        reporter.Report(new TraceProgress(TraceStage.Attaching, 2, 2));
        Assert.Empty(written);
    }

    [Fact]
    public void ALongStageShowsItsStepsAndEndsWithACompletedRecord()
    {
        var written = new List<ProgressRecord>();
        var reporter = new ProgressReporter("./fib", written.Add, null, TimeSpan.Zero);
        for (var done = 0; done <= 4; done++)
            reporter.Report(new TraceProgress(TraceStage.Detaching, done, 4));
        Assert.Equal([0, 25, 50, 75, 100], written.Select(r => r.PercentComplete));
        Assert.All(written, r => Assert.Equal("Detaching probes from ./fib", r.Activity));
        Assert.Equal("4 of 4 links", written[^1].StatusDescription);
        Assert.Equal(ProgressRecordType.Completed, written[^1].RecordType);
        Assert.All(written.SkipLast(1), r => Assert.Equal(ProgressRecordType.Processing, r.RecordType));
    }

    [Fact]
    public void RecordsFromOtherThreadsWaitForTheWriterThread()
    {
        var written = new List<ProgressRecord>();
        var reporter = new ProgressReporter("./fib", written.Add, Thread.CurrentThread, TimeSpan.Zero);
        var other = new Thread(() => reporter.Report(new TraceProgress(TraceStage.Detaching, 1, 2)));
        other.Start();
        other.Join();
        Assert.Empty(written);
        reporter.Flush();
        var record = Assert.Single(written);
        Assert.Equal(50, record.PercentComplete);
        Assert.Equal("1 of 2 links", record.StatusDescription);
    }
}
