using Utrace.Native.Recording;
using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;

namespace Utrace.Tests.EndToEnd;

/// <summary>
/// Every call a program makes is accounted for: recorded to a trace file, or counted as lost
/// by the kernel when its ring buffer is full. The hammer fixture makes a known number of calls
/// of tick() (THREADS x CALLS), as fast as it can, which is the hardest case for the reader.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class ThroughputTests(ElfFixtures fixtures)
{
    // More records than the default 16 MiB ring holds (56 bytes each with the kernel's header: 299,593),
    // so the reader must empty it while the program runs.
    private const int CallsPerThread = 400_000;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void AtDefaultSettingsTheTraceFileGetsEveryCall(int threads)
    {
        var (summary, recorded) = TraceHammer(threads, new TraceOptions());

        var calls = threads * CallsPerThread;
        Assert.Equal(calls, summary.EventsSent);
        Assert.Equal(0, summary.DroppedRingBufferFull);
        Assert.Equal(0, summary.EventsDropped);
        Assert.Equal(calls, summary.EventsRecorded);
        Assert.Equal(calls, recorded);
    }

    [Fact]
    public void ATinyRingBufferLosesCallsAndCountsEachOne()
    {
        // 4 KiB holds 73 records; the reader is woken once per 64 KiB sent, so the ring overflows between wake-ups.
        var (summary, recorded) = TraceHammer(2, new TraceOptions { RingBufferBytes = 4096 });

        Assert.True(summary.DroppedRingBufferFull > 0, "a 4 KiB ring buffer never filled");
        Assert.Equal(2 * CallsPerThread, summary.EventsSent + summary.DroppedRingBufferFull);
        Assert.Equal(summary.DroppedRingBufferFull, summary.EventsDropped);
        Assert.Equal(summary.EventsSent, summary.EventsRecorded);
        Assert.Equal(summary.EventsSent, recorded);
    }

    /// <summary>Traces tick() of `hammer THREADS CALLS` into a trace file, as Start-UTrace -OutFile does; returns the summary and the calls the file holds.</summary>
    private (TraceSummary Summary, long Recorded) TraceHammer(int threads, TraceOptions settings)
    {
        var path = fixtures.PathOf("gcc-O2-pie/hammer");
        var traceFile = Path.Combine(Path.GetTempPath(), $"utrace-hammer-{Guid.NewGuid():N}.utrace");
        var resultFile = traceFile + ".out";
        try
        {
            var options = new TraceOptions
            {
                Selection = new FunctionSelection { Include = name => name == "tick" },
                RingBufferBytes = settings.RingBufferBytes,
                Recording = TraceFileWriter.Create(traceFile),
                StreamEvents = false,
            };
            TraceSummary summary;
            using (var session = TraceSession.Launch(path, [path, $"{threads}", $"{CallsPerThread}", resultFile], Path.GetTempPath(),
                       options, FunctionCatalog.ForExecutable(path, null)))
            {
                Assert.True(session.Completion.Wait(TimeSpan.FromMinutes(2)), "hammer did not end within 2 minutes");
                summary = session.Summary;
            }
            options.Recording.Dispose();
            Assert.Equal(TraceState.Completed, summary.State);
            Assert.Equal(0, summary.ExitCode);
            // The program computes what it computes untraced: every tick counted.
            Assert.Equal($"{threads * CallsPerThread}\n", File.ReadAllText(resultFile));

            using var file = TraceFile.Open(traceFile);
            long recorded = 0;
            foreach (var call in file.ReadEvents())
            {
                Assert.Equal("tick", call.Function);
                recorded++;
            }
            return (summary, recorded);
        }
        finally
        {
            File.Delete(traceFile);
            File.Delete(resultFile);
        }
    }
}
