using Utrace.Native.Recording;
using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;

namespace Utrace.Tests.EndToEnd;

/// <summary>
/// Every call a program makes is accounted for: recorded to a trace file, or counted as lost
/// by the kernel when its ring buffer is full. The hammer fixture makes a known number of calls
/// of tick() (THREADS x CALLS), as fast as it can, which is the hardest case for the reader.
/// Whether the default settings lose none depends on the machine and its load: bench/throughput.ps1
/// measures that; these tests hold on any machine.
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
    public void AtDefaultSettingsEveryCallIsRecordedOrCountedAsLost(int threads)
    {
        var (summary, recorded) = TraceHammer(threads, new TraceOptions());

        AssertEveryCallRecordedOrLost(threads * CallsPerThread, summary, recorded);
    }

    [Fact]
    public void ATinyRingBufferLosesCallsAndCountsEachOne()
    {
        // 4 KiB holds 73 records; the reader is woken once per 64 KiB sent, so the ring overflows between wake-ups.
        var (summary, recorded) = TraceHammer(2, new TraceOptions { RingBufferBytes = 4096 });

        Assert.True(summary.DroppedRingBufferFull > 0, "a 4 KiB ring buffer never filled");
        AssertEveryCallRecordedOrLost(2 * CallsPerThread, summary, recorded);
    }

    [Theory]
    [InlineData("tock", "int -> int")]
    [InlineData("tock_named", "int, string -> int")]
    public void AtDefaultSettingsEveryRecordedCallHasItsOwnValues(string function, string spec)
    {
        TraceHammerCaptures(new TraceOptions(), function, spec);
    }

    [Theory]
    [InlineData("tock", "int -> int")]
    [InlineData("tock_named", "int, string -> int")]
    public void ATinyRingBufferLosesCapturesAndCountsEachOne(string function, string spec)
    {
        var (summary, seenMissing) = TraceHammerCaptures(new TraceOptions { RingBufferBytes = 4096 }, function, spec);

        Assert.True(summary.DroppedRingBufferFull > 0, "a 4 KiB ring buffer never filled");
        Assert.True(seenMissing > 0, "no delivered call lost a capture record");
    }

    /// <summary>sent + lost = calls made; the file holds every call sent, and nothing else was dropped.</summary>
    private static void AssertEveryCallRecordedOrLost(long calls, TraceSummary summary, long recorded)
    {
        Assert.Equal(calls, summary.EventsSent + summary.DroppedRingBufferFull);
        Assert.Equal(summary.DroppedRingBufferFull, summary.EventsDropped);
        Assert.Equal(summary.EventsSent, summary.EventsRecorded);
        Assert.Equal(summary.EventsSent, recorded);
    }

    /// <summary>
    /// Traces one thread of hammer calling `function` with its capture spec: every call is recorded or counted
    /// as lost, each recorded call shows its own values or none, and each capture record the ring refused is
    /// counted. Returns the summary and the values found missing among the recorded calls.
    /// </summary>
    private (TraceSummary Summary, long SeenMissing) TraceHammerCaptures(TraceOptions settings, string function, string spec)
    {
        long withoutArguments = 0, withoutReturnValue = 0, unreadable = 0;
        var last = -1;
        var (summary, recorded) = TraceHammer(1, settings, function, spec, call =>
        {
            if (call.Arguments is { } arguments)
            {
                // The one thread counts up from 0: its call i gets i (and "hammer") and returns i + 1. Whatever
                // was lost, a call never shows another call's values: they only go up.
                var n = (int)arguments[0]!;
                Assert.True(n > last, $"call with argument {n} after {last}");
                last = n;
                if (call.ReturnValue is { } value)
                    Assert.Equal(n + 1, (int)value);
                if (function == "tock_named" && arguments[1] is not "hammer")
                {
                    Assert.IsType<UnreadableString>(arguments[1]);
                    unreadable++;
                }
            }
            else
            {
                withoutArguments++;
            }
            if (call.ReturnValue is null)
                withoutReturnValue++;
        });

        AssertEveryCallRecordedOrLost(CallsPerThread, summary, recorded);
        // A delivered call shows a refused capture record as a missing value (a string whose arguments record
        // was lost leaves no trace); a dropped call's records are not seen.
        var recordsPerCall = function == "tock_named" ? 3 : 2;
        var seenMissing = withoutArguments + withoutReturnValue + unreadable;
        Assert.InRange(summary.CapturesLost, seenMissing,
            seenMissing + (recordsPerCall - 2) * withoutArguments + recordsPerCall * summary.DroppedRingBufferFull);
        return (summary, seenMissing);
    }

    /// <summary>
    /// Traces `function` (tick, or tock and tock_named with a capture spec) of `hammer THREADS CALLS` into a trace
    /// file, as Start-UTrace -OutFile does; hands each call in the file to `inspect`; returns the summary and the
    /// calls the file holds.
    /// </summary>
    private (TraceSummary Summary, long Recorded) TraceHammer(int threads, TraceOptions settings, string function = "tick",
        string? spec = null, Action<CallEvent>? inspect = null)
    {
        var path = fixtures.PathOf("gcc-O2-pie/hammer");
        var traceFile = Path.Combine(Path.GetTempPath(), $"utrace-hammer-{Guid.NewGuid():N}.utrace");
        var resultFile = traceFile + ".out";
        try
        {
            var recording = TraceFileWriter.Create(traceFile);
            var options = new TraceOptions
            {
                Selection = new FunctionSelection { Include = name => name == function },
                Captures = spec is null ? null : [new CaptureRule(function, name => name == function, CaptureSpec.Parse(spec))],
                RingBufferBytes = settings.RingBufferBytes,
                Recording = recording,
                StreamEvents = false,
            };
            TraceSummary summary;
            using (var session = TraceSession.Launch(path, path, [path, $"{threads}", $"{CallsPerThread}", resultFile, function], Path.GetTempPath(),
                       options))
            {
                Assert.True(session.Completion.Wait(TimeSpan.FromMinutes(2)), "hammer did not end within 2 minutes");
                summary = session.Summary;
            }
            recording.Dispose();
            Assert.Equal(TraceState.Completed, summary.State);
            Assert.Equal(0, summary.ExitCode);
            // The program computes what it computes untraced: every tick counted.
            Assert.Equal($"{threads * CallsPerThread}\n", File.ReadAllText(resultFile));

            using var file = TraceFile.Open(traceFile);
            long recorded = 0;
            foreach (var call in file.ReadEvents())
            {
                Assert.Equal(function, call.Function);
                inspect?.Invoke(call);
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
