using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;

namespace Utrace.Tests.EndToEnd;

/// <summary>
/// A consumer that falls behind never blocks the traced program: the kernel drops what the
/// ring buffer cannot hold, and every call is either delivered or counted as dropped.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class SlowConsumerTests(ElfFixtures fixtures)
{
    [Fact]
    public void EveryCallIsDeliveredOrCountedAsDropped()
    {
        var path = fixtures.PathOf("gcc-O2-pie/fib");
        var options = new TraceOptions
        {
            Selection = new FunctionSelection { Include = name => name == "fib" },
            QueueCapacity = 8,
            RingBufferBytes = 4096,
        };
        using var session = TraceSession.Launch(path, path, [path, "20"], Path.GetTempPath(), options);

        // Read nothing more until the program has exited: its 21,891 calls cannot fit in 4 KiB of ring buffer
        // and 8 queued events, so the kernel must have dropped some, whatever the machine's speed.
        using var events = session.ReadEvents(CancellationToken.None).GetEnumerator();
        Assert.True(events.MoveNext());
        Assert.Equal("fib", events.Current.Function);
        Assert.True(TracedProcess.WaitForExit(session.ProcessId, TimeSpan.FromMinutes(1)), $"fib 20 (process {session.ProcessId}) did not exit within a minute");
        var read = 1;
        while (events.MoveNext())
        {
            Assert.Equal("fib", events.Current.Function);
            read++;
        }

        var summary = session.Summary;
        Assert.Equal(0, summary.ExitCode);
        Assert.Equal(read, summary.EventsDelivered);
        Assert.True(summary.DroppedRingBufferFull > 0, "the small ring buffer never filled");
        Assert.Equal(summary.DroppedRingBufferFull, summary.EventsDropped);
        Assert.Equal(21_891, summary.EventsDelivered + summary.EventsDropped); // fib(20) makes 21,891 calls
    }

    [Fact]
    public void RingBufferSizesMustBePowersOfTwo()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TraceOptions { RingBufferBytes = 5000 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TraceOptions { RingBufferBytes = 2048 });
        Assert.Equal(1 << 16, new TraceOptions { RingBufferBytes = 1 << 16 }.RingBufferBytes);
    }
}
