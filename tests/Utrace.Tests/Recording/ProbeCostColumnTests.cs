using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Xunit;

namespace Utrace.Tests.Recording;

/// <summary>The probes' cost of each call: priced from the kernel's counts, and kept through the trace file.</summary>
public sealed class ProbeCostColumnTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-probecost-").FullName;

    // Per kind of hit (emulated, single-stepped, optimized nop): a call's whole cost, and the part inside its own duration.
    private static readonly ProbeCalibration Calibration = new("6.18.0-test", "test CPU", ReturnMode.Uretprobe, AttachMode.MultiLink,
        SyntheticTrace.StartTime, [700, 2_000, 300], [150, 1_400, 100]);

    private static readonly TraceContext Context = new(SyntheticTrace.Functions, SyntheticTrace.StartMonotonicNs, SyntheticTrace.StartTime)
    {
        ProbeCosts = Calibration,
    };

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>
    /// A single-stepped call with 3 emulated, 2 single-stepped and 1 nop call inside: 1 of each its own reported children,
    /// and 1 single-stepped one filtered out (its time, probes included, stays the call's self time).
    /// </summary>
    private static EventRecord Record(long durationNs, long selfNs)
    {
        var record = SyntheticTrace.Record(1) with { Type = RecordType.Call, EntryHit = ProbeHitKind.SingleStepped, DurationNs = (ulong)durationNs, SelfNs = (ulong)selfNs };
        record.InnerCalls[0] = 3;
        record.InnerCalls[1] = 2;
        record.InnerCalls[2] = 1;
        record.ChildCalls[0] = record.ChildCalls[1] = record.ChildCalls[2] = 1;
        record.UnreportedCalls[1] = 1;
        return record;
    }

    [Fact]
    public void PricesTheCallsTheKernelCountedWithTheCalibration()
    {
        var call = Record(100_000, 50_000).ToTracedCall(Context, null);
        // Own inside part + every call inside at its whole cost; in self time, the reported children's outside parts and
        // the unreported call whole.
        Assert.Equal(1_400 + 3 * 700 + 2 * 2_000 + 1 * 300, call.Probes.CostNs);
        Assert.Equal(1_400 + (700 - 150) + (2_000 - 1_400) + (300 - 100) + 2_000, call.Probes.SelfCostNs);
        Assert.Equal(6, call.Probes.CallsInside);
        Assert.Equal(100_000 - 7_800, call.DurationNs);
        Assert.Equal(50_000 - 4_750, call.SelfNs);
        Assert.False(call.ProbeDominated);
    }

    [Fact]
    public void NeverReportsANegativeTimeAndFlagsACallMostlyOfProbes()
    {
        var call = Record(5_000, 1_000).ToTracedCall(Context, null);
        Assert.Equal(0, call.DurationNs);
        Assert.Equal(0, call.SelfNs);
        Assert.Equal(5_000, call.RawDurationNs);
        Assert.True(call.ProbeDominated);
        Assert.False(Record(9_751, 9_000).ToTracedCall(Context, null).ProbeDominated); // 7,800 is just under 80% of 9,751
        Assert.True(Record(9_749, 9_000).ToTracedCall(Context, null).ProbeDominated);
    }

    [Fact]
    public void AnUncalibratedTraceCountsTheCallsInsideAndTakesNothingOut()
    {
        var call = Record(100_000, 50_000).ToTracedCall(SyntheticTrace.Context, null);
        Assert.Equal(new ProbeAccount(0, 0, 6), call.Probes);
        Assert.Equal(100_000, call.DurationNs);
    }

    [Fact]
    public void KeepsRawAndCorrectedFiguresThroughTheFile()
    {
        var path = Path.Combine(_folder, "costs.arrow");
        var sink = (IEventSink)TraceFileWriter.Create(path, dropWhenBehind: false);
        sink.Begin(Context, SyntheticTrace.Origin);
        var written = new[] { Record(100_000, 50_000), Record(5_000, 1_000) }.Select(r => r.ToTracedCall(Context, null)).ToArray();
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
