using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;
using Xunit.Abstractions;

namespace Utrace.Tests.EndToEnd;

/// <summary>
/// Four threads throwing C++ exceptions at once through traced functions, traced with the smallest
/// ring buffer and queue by a consumer that reads nothing until the program has ended: the kernel
/// drops events, and the program must still catch every throw and exit as it does untraced.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class ThrowingThreadsTests(ElfFixtures fixtures, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Theory]
    [MemberData(nameof(ElfFixtures.Variants), "throw_threads", MemberType = typeof(ElfFixtures))]
    public async Task EveryThrowIsCaughtWhileASlowConsumerFallsBehind(string binary)
    {
        var path = fixtures.PathOf(binary);
        // The launched program shares the test host's stdout: it writes its result to a file instead.
        var resultFile = Path.Combine(Path.GetTempPath(), $"utrace-throw_threads-{Guid.NewGuid():N}");
        // 4 KiB of ring buffer and one queued batch of 256 events hold a few hundred of the 12,004 calls.
        var options = new TraceOptions { QueueCapacity = 8, RingBufferBytes = 4096 };
        var processId = 0;
        try
        {
            var trace = Task.Run(() =>
            {
                using var session = TraceSession.Launch(path, path, [path, resultFile], Path.GetTempPath(), options);
                processId = session.ProcessId;
                using var events = session.ReadEvents(CancellationToken.None).GetEnumerator();
                Assert.True(TracedProcess.WaitForExit(processId, Patience), $"throw_threads has not exited after {Patience.TotalSeconds} s");
                var read = 0;
                while (events.MoveNext())
                    read++;
                return (session.Summary, Read: read);
            });
            // A program left stopped, or a trace that never ends, fails the test instead of hanging the run.
            var ended = await Task.WhenAny(trace, Task.Delay(2 * Patience)) == trace;
            Assert.True(ended, $"the trace has not ended after {2 * Patience.TotalSeconds} s; throw_threads is {TracedProcess.State(processId)}");

            var (summary, read) = await trace;
            output.WriteLine($"read {read}, delivered {summary.EventsDelivered}, sent {summary.EventsSent}, dropped {summary.EventsDropped}, " +
                $"with the ring buffer full {summary.DroppedRingBufferFull}, unread {summary.DroppedUnread}, unwound {summary.CallsUnwound}");
            Assert.Equal(0, summary.ExitCode);
            Assert.Equal("caught 4000\n", File.ReadAllText(resultFile));
            // The consumer fell behind: the kernel refused records, and every one read was counted.
            Assert.True(summary.DroppedRingBufferFull > 0, "the small ring buffer never filled");
            Assert.Equal(summary.DroppedRingBufferFull, summary.EventsDropped);
            Assert.Equal(read, summary.EventsDelivered);
        }
        finally
        {
            if (TracedProcess.State(processId) is not ("gone" or "Z"))
                System.Diagnostics.Process.GetProcessById(processId).Kill();
            File.Delete(resultFile);
        }
    }
}
