using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;
using Xunit.Abstractions;

namespace Utrace.Tests.EndToEnd;

/// <summary>
/// Four threads throwing C++ exceptions at once through traced functions, traced with the smallest
/// ring buffer by a consumer that reads slowly: the kernel drops events, and the program must still
/// catch every throw and exit as it does untraced.
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
        var options = new TraceOptions { QueueCapacity = 8, RingBufferBytes = 4096 };
        var processId = 0;
        try
        {
            var trace = Task.Run(() =>
            {
                using var session = TraceSession.Launch(path, [path, resultFile], Path.GetTempPath(), options, FunctionCatalog.ForExecutable(path, null));
                processId = session.ProcessId;
                var read = 0;
                foreach (var _ in session.ReadEvents(CancellationToken.None))
                {
                    if (read++ < 400)
                        Thread.Sleep(5); // 2 s behind: longer than the threads take to throw
                }
                return session.Summary;
            });
            // A program left stopped, or a trace that never ends, fails the test instead of hanging the run.
            var ended = await Task.WhenAny(trace, Task.Delay(Patience)) == trace;
            Assert.True(ended, $"the trace has not ended after {Patience.TotalSeconds} s; throw_threads is {ProcessState(processId)}");

            var summary = await trace;
            output.WriteLine($"delivered {summary.EventsDelivered}, dropped with the ring buffer full {summary.DroppedRingBufferFull}, unread {summary.DroppedUnread}");
            Assert.Equal(0, summary.ExitCode);
            Assert.Equal("caught 4000\n", File.ReadAllText(resultFile));
        }
        finally
        {
            if (ProcessState(processId) != "gone")
                System.Diagnostics.Process.GetProcessById(processId).Kill();
            File.Delete(resultFile);
        }
    }

    /// <summary>The state letter of /proc/PID/stat (R, S, T for stopped, ...), or "gone".</summary>
    private static string ProcessState(int pid)
    {
        if (pid == 0)
            return "gone";
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
