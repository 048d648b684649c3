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

    [Theory]
    [InlineData("tock", "int -> int")]
    [InlineData("tock_named", "int, string -> int")]
    public void AtDefaultSettingsTheTraceFileGetsEveryCapturedCallWithItsValues(string function, string spec)
    {
        var next = 0;
        var (summary, recorded) = TraceHammer(1, new TraceOptions(), function, spec, call =>
        {
            // One thread counts up from 0: its call i gets i (and "hammer") and returns i + 1.
            Assert.Equal(next, (int)call.Arguments![0]!);
            if (function == "tock_named")
                Assert.Equal("hammer", call.Arguments[1]);
            Assert.Equal(next + 1, (int)call.ReturnValue!);
            next++;
        });

        Assert.Equal(CallsPerThread, summary.EventsSent);
        Assert.Equal(0, summary.EventsDropped);
        Assert.Equal(0, summary.CapturesLost);
        Assert.Equal(CallsPerThread, summary.EventsRecorded);
        Assert.Equal(CallsPerThread, recorded);
        Assert.Equal(CallsPerThread, next);
    }

    [Theory]
    [InlineData("tock", "int -> int")]
    [InlineData("tock_named", "int, string -> int")]
    public void ATinyRingBufferLosesCapturesAndCountsEachOne(string function, string spec)
    {
        long withoutArguments = 0, withoutReturnValue = 0, unreadable = 0;
        var last = -1;
        var (summary, recorded) = TraceHammer(1, new TraceOptions { RingBufferBytes = 4096 }, function, spec, call =>
        {
            if (call.Arguments is { } arguments)
            {
                // Whatever was lost, a call never shows another call's values: they only go up.
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

        Assert.True(summary.DroppedRingBufferFull > 0, "a 4 KiB ring buffer never filled");
        Assert.Equal(CallsPerThread, summary.EventsSent + summary.DroppedRingBufferFull);
        Assert.Equal(summary.EventsSent, summary.EventsRecorded);
        Assert.Equal(summary.EventsSent, recorded);
        // Each capture record the ring refused is counted: a delivered call shows it as a missing value (a
        // string whose arguments record was lost leaves no trace); a dropped call's records are not seen.
        var recordsPerCall = function == "tock_named" ? 3 : 2;
        var seenMissing = withoutArguments + withoutReturnValue + unreadable;
        Assert.True(seenMissing > 0, "no delivered call lost a capture record");
        Assert.InRange(summary.CapturesLost, seenMissing,
            seenMissing + (recordsPerCall - 2) * withoutArguments + recordsPerCall * summary.DroppedRingBufferFull);
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
            using (var session = TraceSession.Launch(path, [path, $"{threads}", $"{CallsPerThread}", resultFile, function], Path.GetTempPath(),
                       options, FunctionCatalog.ForExecutable(path, null)))
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
