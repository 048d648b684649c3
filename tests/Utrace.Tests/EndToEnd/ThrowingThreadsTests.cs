using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;

namespace Utrace.Tests.EndToEnd;

/// <summary>
/// Four threads throwing C++ exceptions at once through traced functions, traced with the smallest
/// ring buffer by a consumer that reads slowly: the kernel drops events, and the program must still
/// catch every throw and exit as it does untraced.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class ThrowingThreadsTests(ElfFixtures fixtures)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Theory]
    [MemberData(nameof(ElfFixtures.Variants), "throw_threads", MemberType = typeof(ElfFixtures))]
    public void EveryThrowIsCaughtWhileASlowConsumerFallsBehind(string binary)
    {
        var path = fixtures.PathOf(binary);
        // The launched program shares the test host's stdout: it writes its result to a file instead.
        var resultFile = Path.Combine(Path.GetTempPath(), $"utrace-throw_threads-{Guid.NewGuid():N}");
        var options = new TraceOptions { QueueCapacity = 8, RingBufferBytes = 4096 };
        try
        {
            using var session = TraceSession.Launch(path, [path, resultFile], Path.GetTempPath(), options, FunctionCatalog.ForExecutable(path, null));
            using var deadline = new CancellationTokenSource(Patience);
            var read = 0;
            try
            {
                foreach (var _ in session.ReadEvents(deadline.Token))
                {
                    if (read++ < 200)
                        Thread.Sleep(5); // fall behind while the threads throw
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"throw_threads still runs after {Patience.TotalSeconds} s, state {ProcessState(session.ProcessId)}");
            }

            var summary = session.Summary;
            Assert.Equal(0, summary.ExitCode);
            Assert.Equal("caught 4000\n", File.ReadAllText(resultFile));
            Assert.True(summary.DroppedRingBufferFull > 0, "the small ring buffer never filled: the consumer was not slow enough to test anything");
        }
        finally
        {
            File.Delete(resultFile);
        }
    }

    /// <summary>The state letter of /proc/PID/stat (R, S, T for stopped, ...), or "gone".</summary>
    private static string ProcessState(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
        }
        catch (IOException)
        {
            return "gone";
        }
    }
}
