using Utrace.Native.Recording;
using Xunit;

namespace Utrace.Tests.Recording;

/// <summary>CallEvents made again from what a text export or a deserialized object keeps of them.</summary>
public sealed class ExportedCallTests
{
    // Two hosts, interleaved as Invoke-Command returns them; each with its own clock anchor.
    private static readonly ExportedCall[] Calls =
    [
        new("fib", "fib", "main", 10, 10, 1, StartUnixNs: 1_000_000_500, StartNs: 500, 300, 300, true, "a"),
        new("fib", "fib", "main", 10, 10, 1, StartUnixNs: 2_000_000_700, StartNs: 700, 400, 400, true, "b"),
        new("main", "fib", null, 10, 10, 0, StartUnixNs: 1_000_000_000, StartNs: 0, 900, 600, true, "a"),
        new("main", "fib", null, 10, 10, 0, StartUnixNs: 2_000_000_000, StartNs: 0, 1_000, 600, true, "b"),
    ];

    [Fact]
    public void CallsOfSeveralHostsKeepTheirOrderHostAndClock()
    {
        var events = ExportedCall.ToCallEvents(Calls);
        Assert.Equal(Calls.Select(c => (c.ComputerName, c.Function, c.Caller, c.StartUnixNs, c.StartNs, c.DurationNs)),
            events.Select(e => (e.ComputerName, e.Function, e.Caller, e.Start.UnixNanoseconds, e.StartNs, e.DurationNs)));
    }

    [Fact]
    public void OneCallAtATimeGivesEqualEventsThatShareTheirContext()
    {
        var events = Calls.Concat(Calls).Select(c => c.ToCallEvent()).ToArray();
        Assert.Equal(Calls.Concat(Calls).Select(c => (c.ComputerName, c.Function, c.Module, c.Caller, c.Depth, c.StartUnixNs, c.StartNs, c.DurationNs, c.SelfNs)),
            events.Select(e => (e.ComputerName, e.Function, e.Module, e.Caller, e.Depth, e.Start.UnixNanoseconds, e.StartNs, e.DurationNs, e.SelfNs)));
        Assert.Same(events[0].Context, events[4].Context);
        Assert.NotSame(events[0].Context, events[1].Context);
    }
}
