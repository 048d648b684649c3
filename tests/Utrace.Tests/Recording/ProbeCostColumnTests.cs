using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Xunit;

namespace Utrace.Tests.Recording;

/// <summary>The probes' cost of each call: the kernel's raw and own times, kept through the trace file.</summary>
public sealed class ProbeCostColumnTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-probecost-").FullName;

    private static readonly TraceContext Context = SyntheticTrace.Context;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A call with 6 traced calls inside, and what the probes took of its times as the kernel priced them.</summary>
    private static EventRecord Record(long durationNs, long selfNs, long probeCostNs, long selfProbeCostNs) =>
        SyntheticTrace.Record(1) with
        {
            Type = RecordType.Call, DurationNs = (ulong)durationNs, SelfNs = (ulong)selfNs,
            ProbeCostNs = (ulong)probeCostNs, SelfProbeCostNs = (ulong)selfProbeCostNs, CallsInside = 6,
        };

    [Fact]
    public void TakesOutWhatTheKernelPricedTheProbesAt()
    {
        var call = Record(100_000, 50_000, 7_800, 4_750).ToTracedCall(Context, null);
        Assert.Equal(new ProbeAccount(7_800, 4_750, 6), call.Probes);
        Assert.Equal(92_200, call.DurationNs);
        Assert.Equal(45_250, call.SelfNs);
        Assert.Equal(100_000, call.RawDurationNs);
        Assert.False(call.ProbeDominated);
    }

    [Fact]
    public void FlagsACallMostlyOfProbes()
    {
        var call = Record(5_000, 1_000, 5_000, 1_000).ToTracedCall(Context, null);
        Assert.Equal(0, call.DurationNs);
        Assert.Equal(5_000, call.RawDurationNs);
        Assert.True(call.ProbeDominated);
        Assert.False(Record(9_751, 9_000, 7_800, 7_800).ToTracedCall(Context, null).ProbeDominated); // 7,800 is just under 80% of 9,751
        Assert.True(Record(9_749, 9_000, 7_800, 7_800).ToTracedCall(Context, null).ProbeDominated);
    }

    [Fact]
    public void AnEntryRecordHasNoProbeAccount()
    {
        var call = (SyntheticTrace.Record(1) with { Type = RecordType.Entry, CallsInside = 0 }).ToTracedCall(Context, null);
        Assert.Equal(default, call.Probes);
    }

    [Fact]
    public void KeepsRawAndCorrectedFiguresThroughTheFile()
    {
        var path = Path.Combine(_folder, "costs.arrow");
        var sink = (IEventSink)TraceFileWriter.Create(path, dropWhenBehind: false);
        sink.Begin(Context, SyntheticTrace.Origin);
        var written = new[] { Record(100_000, 50_000, 7_800, 4_750), Record(5_000, 1_000, 5_000, 1_000) }.Select(r => r.ToTracedCall(Context, null)).ToArray();
        foreach (var call in written)
            sink.OnEvent(call);
        sink.Complete();

        using var file = TraceFile.Open(path);
        var read = file.ReadEvents().ToArray();
        Assert.Equal(written.Select(c => (c.RawDurationNs, c.DurationNs, c.SelfNs, c.Probes)),
            read.Select(e => (e.RawDurationNs, e.DurationNs, e.SelfNs, e.Call.Probes)));
    }

    [Fact]
    public void AFileFromBeforeTheProbeCostColumnsReadsAsMeasured()
    {
        using var file = TraceFile.Open(RepoPaths.File("tests/fixtures/traces/fib5-format-1.0.arrow"));
        Assert.All(file.ReadEvents(), e =>
        {
            Assert.Equal(e.RawDurationNs, e.DurationNs);
            Assert.Equal(0, e.ProbeCostNs);
            Assert.Equal(0, e.CallsInside);
        });
    }
}
