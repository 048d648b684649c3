using Utrace.Native.Recording;
using Xunit;

namespace Utrace.Tests.Recording;

/// <summary>CallEvents made again from what a text export or a deserialized object keeps of them.</summary>
public sealed class ImportedCallTableTests
{
    // Two hosts, interleaved as Invoke-Command returns them; each with its own clock anchor.
    private static readonly (string Function, string? Caller, int Depth, long StartUnixNs, long StartNs, long DurationNs, long SelfNs, string Host)[] Calls =
    [
        ("fib", "main", 1, 1_000_000_500, 500, 300, 300, "a"),
        ("fib", "main", 1, 2_000_000_700, 700, 400, 400, "b"),
        ("main", null, 0, 1_000_000_000, 0, 900, 600, "a"),
        ("main", null, 0, 2_000_000_000, 0, 1_000, 600, "b"),
    ];

    private static CallEvent[] Import(ImportedCallTable table, IEnumerable<(string Function, string? Caller, int Depth, long StartUnixNs, long StartNs, long DurationNs, long SelfNs, string Host)> calls) =>
        calls.Select(c => table.Add(c.Function, "fib", c.Caller, null, c.Host, c.StartUnixNs, CallKind.Timed, 10, 10, c.Depth, c.StartNs, c.DurationNs, c.SelfNs)).ToArray();

    [Fact]
    public void CallsOfSeveralHostsKeepTheirOrderHostAndClock()
    {
        var events = Import(new ImportedCallTable(), Calls);
        Assert.Equal(Calls.Select(c => (c.Host, c.Function, c.Caller, c.StartUnixNs, c.StartNs, c.DurationNs, c.SelfNs, c.Depth)),
            events.Select(e => (e.ComputerName, e.Function, e.Caller, e.Start.UnixNanoseconds, e.StartNs, e.DurationNs, e.SelfNs, e.Depth)));
        Assert.All(events, e => Assert.Equal("fib", e.Module));
    }

    [Fact]
    public void CallsOfOneTraceShareOneContextAndItsFunctions()
    {
        var events = Import(new ImportedCallTable(), Calls.Concat(Calls));
        Assert.Same(events[0].Context, events[2].Context);
        Assert.Same(events[0].Context, events[4].Context);
        Assert.NotSame(events[0].Context, events[1].Context);
        // An export names a caller without its module: one seen before it is a function of its own.
        Assert.Equal(["fib in fib", "main in ", "main in fib"], events[0].Context.Functions.Select(f => $"{f.Name} in {f.Module}"));
        Assert.Equal(["main", "main", null, null], events[..4].Select(e => e.Caller));
    }

    [Fact]
    public void AnEntryOnlyCallHasNoDuration()
    {
        var e = new ImportedCallTable().Add("main", "fib", null, null, "", 1_000, CallKind.EntryOnly, 10, 10, 0, 0, 0, 0);
        Assert.False(e.HasDuration);
        Assert.Equal(CallKind.EntryOnly, e.Call.Kind);
    }
}
