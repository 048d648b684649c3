using Utrace.Native.Reports;
using Xunit;
using Xunit.Abstractions;

namespace Utrace.Tests.Recording;

/// <summary>
/// A 10-million-event file, written by the real writer, is read, summarised (Measure-UTrace's
/// builder) and merged into a flame graph's stacks with memory that does not depend on the
/// number of events: the reader holds one record batch (16,384 events) at a time, the reports
/// no event.
/// </summary>
[Collection(nameof(BoundedMemoryTests))]
public sealed class BoundedMemoryTests(ITestOutputHelper output)
{
    private const long EventCount = 10_000_000;
    private const long SampleEvery = 1_000_000;

    // Far above one batch of CallEvents (~2 MB), far below 10 M of them (~1 GB).
    private const long LiveHeapBound = 64L << 20;

    [Fact]
    public void TenMillionEventsAreReadInBoundedMemory()
    {
        var folder = Directory.CreateTempSubdirectory("utrace-10m-").FullName;
        try
        {
            var path = Path.Combine(folder, "10m.arrow");
            var writer = SyntheticTrace.Write(path, EventCount);
            Assert.Equal(EventCount, writer.EventsWritten);

            var calls = new long[SyntheticTrace.Functions.Length];
            var totalNs = new long[SyntheticTrace.Functions.Length];
            var liveHeaps = new List<long>();
            long read = 0;
            var summary = new CallSummaryBuilder(byThread: false);
            var stacks = new StackTree();
            using (var file = TraceFile.Open(path))
            {
                foreach (var e in file.ReadEvents())
                {
                    calls[e.FunctionId]++;
                    totalNs[e.FunctionId] += e.DurationNs;
                    summary.Add(e.Call);
                    stacks.Add(e.Call);
                    if (++read % SampleEvery == 0)
                        liveHeaps.Add(GC.GetTotalMemory(forceFullCollection: true));
                }
                Assert.False(file.WasCut);
            }

            output.WriteLine($"file {new FileInfo(path).Length / 1e6:0} MB; live managed heap per million events read (MB): " +
                string.Join(' ', liveHeaps.Select(b => (b / 1e6).ToString("0.0"))) +
                $"; working set at the end {Environment.WorkingSet / 1e6:0} MB");
            Assert.Equal(EventCount, read);
            Assert.Equal(10, liveHeaps.Count);
            Assert.All(liveHeaps, bytes => Assert.True(bytes < LiveHeapBound, $"{bytes} bytes live while reading"));
            // Not growing: the last million added less than one batch's worth to the first.
            Assert.True(liveHeaps[^1] - liveHeaps[0] < 4L << 20, $"live heap grew from {liveHeaps[0]} to {liveHeaps[^1]} bytes");

            // The expected sums come from the formula, not from the reader.
            for (var f = 0; f < calls.Length; f++)
            {
                long expectedCalls = 0, expectedNs = 0;
                for (long i = f; i < EventCount; i += SyntheticTrace.Functions.Length)
                {
                    expectedCalls++;
                    expectedNs += SyntheticTrace.Duration(i);
                }
                Assert.Equal(expectedCalls, calls[f]);
                Assert.Equal(expectedNs, totalNs[f]);
            }
            Assert.Equal(calls, SyntheticTrace.Functions.Select(f => summary.Build().Single(s => s.Function == f.Name).Calls));
            // Folding keeps every nanosecond of self time, whatever stacks the events make.
            long expectedSelfNs = 0;
            for (long i = 0; i < EventCount; i++)
                expectedSelfNs += SyntheticTrace.Self(i);
            Assert.Equal(expectedSelfNs, stacks.Complete().ToFolded().Sum(line => long.Parse(line[(line.LastIndexOf(' ') + 1)..])));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
