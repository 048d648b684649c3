using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Recording;

/// <summary>The time each call spent on a CPU: from the kernel's record, less the probes' cost, through the trace file.</summary>
public sealed class OnCpuColumnTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-oncpu-").FullName;

    private static readonly TraceContext Context = SyntheticTrace.Context;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static TracedCall Call(RecordType type, long durationNs, long onCpuNs) =>
        (SyntheticTrace.Record(1) with
        {
            // A single-stepped call with nothing traced inside: the kernel prices its own probes' part inside it at 1,400 ns.
            Type = type, DurationNs = (ulong)durationNs, SelfNs = (ulong)durationNs, OnCpuNs = (ulong)onCpuNs,
            ProbeCostNs = type == RecordType.Call ? 1_400UL : 0, SelfProbeCostNs = type == RecordType.Call ? 1_400UL : 0,
        }).ToTracedCall(Context, null);

    [Fact]
    public void TakesTheProbesOutAsFromTheDurationWithinZeroAndIt()
    {
        var call = Call(RecordType.Call, 100_000, 30_000);
        Assert.Equal(30_000, call.RawOnCpuNs);
        Assert.Equal(30_000 - 1_400, call.OnCpuNs);
        Assert.Equal(0, Call(RecordType.Call, 100_000, 1_000).OnCpuNs);
        // The probes' cost taken out of both: the on-CPU time never exceeds the program's own duration.
        Assert.Equal(100_000 - 1_400, Call(RecordType.Call, 100_000, 100_000).OnCpuNs);
    }

    [Fact]
    public void AnEntryOnlyCallHasNone()
    {
        var call = new CallEvent(Call(RecordType.Entry, 0, 0));
        Assert.Null(call.OnCpu);
        Assert.Null(call.OnCpuNs);
        Assert.Null(call.RawOnCpuNs);
    }

    [Fact]
    public void KeepsItThroughTheFileNullForAnEntryOnlyCall()
    {
        var path = Path.Combine(_folder, "oncpu.arrow");
        var sink = (IEventSink)TraceFileWriter.Create(path, dropWhenBehind: false);
        sink.Begin(Context, SyntheticTrace.Origin);
        var written = new[] { Call(RecordType.Call, 100_000, 30_000), Call(RecordType.Entry, 0, 0), Call(RecordType.Call, 50_000, 0) };
        foreach (var call in written)
            sink.OnEvent(call);
        sink.Complete();

        using (var file = TraceFile.Open(path))
        {
            Assert.Equal(new Version(2, 0), file.FormatVersion);
            Assert.Equal(new long?[] { 30_000, null, 0 }, file.ReadEvents().Select(e => e.RawOnCpuNs));
        }
        using (var file = TraceFile.Open(path))
        {
            var summary = new CallSummaryBuilder(byThread: false);
            foreach (var batch in file.ReadBatches())
                summary.Add(file.Context, batch);
            // The two timed calls' own on-CPU times: 28,600 and 0 (30,000 and 0 less the 1,400 of probes inside each).
            Assert.Equal(Duration.FromNanoseconds(28_600), summary.Build().Single().OnCpu);
        }
    }

    [Fact]
    public void AFileFromBeforeTheColumnHasNone()
    {
        using var file = TraceFile.Open(RepoPaths.File("tests/fixtures/traces/fib5-format-1.0.arrow"));
        Assert.All(file.ReadEvents(), e => Assert.Null(e.OnCpu));
        using var again = TraceFile.Open(RepoPaths.File("tests/fixtures/traces/fib5-format-1.0.arrow"));
        var summary = new CallSummaryBuilder(byThread: false);
        foreach (var batch in again.ReadBatches())
            summary.Add(again.Context, batch);
        Assert.All(summary.Build(), s => Assert.Null(s.OnCpu));
    }
}
