using System.Text.Json;
using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

public sealed class ChromeTraceWriterTests
{
    [Fact]
    public void WritesCompleteEventsAndThreadNamesAsOneJsonArray()
    {
        var writer = new ChromeTraceWriter(includeArguments: true);
        var calls = new CallTree("main", 1_500, new CallTree("say \"hi\"", 1_234)).Complete(threadId: 100, startNs: 2_000_001)
            .Concat(new CallTree("work", 7).Complete(threadId: 101));
        var lines = new List<string> { ChromeTraceWriter.Begin };
        lines.AddRange(calls.SelectMany(writer.Add));
        lines.Add(ChromeTraceWriter.End);

        using var json = JsonDocument.Parse(string.Join("\n", lines));
        var events = json.RootElement.EnumerateArray().ToList();
        var complete = events.Where(e => e.GetProperty("ph").GetString() == "X").ToList();
        Assert.Equal(["say \"hi\"", "main", "work"], complete.Select(e => e.GetProperty("name").GetString()));
        var child = complete[0];
        Assert.Equal(2000.002m, child.GetProperty("ts").GetDecimal());
        Assert.Equal(1.234m, child.GetProperty("dur").GetDecimal());
        Assert.Equal(1, child.GetProperty("args").GetProperty("depth").GetInt32());
        Assert.Equal(2.734m, complete[1].GetProperty("dur").GetDecimal());
        Assert.Equal(1.5m, complete[1].GetProperty("args").GetProperty("self_us").GetDecimal());
        Assert.Equal(101, complete[2].GetProperty("tid").GetInt32());

        var names = events.Where(e => e.GetProperty("ph").GetString() == "M")
            .Select(e => $"{e.GetProperty("name").GetString()} {e.GetProperty("tid").GetInt32()} {e.GetProperty("args").GetProperty("name").GetString()}");
        Assert.Equal(["thread_name 100 main thread (100)", "process_name 100 prog (100)", "thread_name 101 thread 101"], names);
    }

    [Fact]
    public void GivesEventsNoArgsUnlessAsked()
    {
        var line = new ChromeTraceWriter().Add(new CallTree("main", 1_500).Complete(threadId: 100)[0]).Last();
        Assert.Equal("""{"name":"main","cat":"prog","ph":"X","pid":100,"tid":100,"ts":0.000,"dur":1.500}""", line.TrimStart(','));
    }

    [Fact]
    public void GivesTheSameProcessIdOnTwoHostsTwoProcesses()
    {
        var writer = new ChromeTraceWriter();
        var calls = new CallTree("main", 5).Complete(threadId: 100, computerName: "alpha")
            .Concat(new CallTree("main", 7).Complete(threadId: 100, computerName: "beta"))
            .Concat(new CallTree("main", 9).Complete(threadId: 100, computerName: "alpha"));
        var lines = new List<string> { ChromeTraceWriter.Begin };
        lines.AddRange(calls.SelectMany(writer.Add));
        lines.Add(ChromeTraceWriter.End);

        using var json = JsonDocument.Parse(string.Join("\n", lines));
        var events = json.RootElement.EnumerateArray().ToList();
        var names = events.Where(e => e.GetProperty("ph").GetString() == "M")
            .Select(e => $"{e.GetProperty("name").GetString()} {e.GetProperty("pid").GetInt32()} {e.GetProperty("args").GetProperty("name").GetString()}");
        const int beta = 100 + (1 << 22);
        Assert.Equal([$"process_name 100 prog (100)", "thread_name 100 main thread (100)",
            $"process_name {beta} prog (100) on beta", $"thread_name {beta} main thread (100)"], names);
        var complete = events.Where(e => e.GetProperty("ph").GetString() == "X").Select(e => e.GetProperty("pid").GetInt32());
        Assert.Equal([100, beta, 100], complete);
    }

    [Fact]
    public void PutsTheCallsOfTwoTracesOnOneTimeLineFromTheFirstTracesStart()
    {
        // Two trace files read together: the second began 2.5 ms after the first, on another host.
        var writer = new ChromeTraceWriter();
        var first = new CallTree("main", 1_000).Complete(threadId: 100, startNs: 10_000, computerName: "alpha",
            traceStartUnixNs: 1_700_000_000_000_000_000);
        var second = new CallTree("main", 1_000).Complete(threadId: 100, startNs: 10_000, computerName: "beta",
            traceStartUnixNs: 1_700_000_000_002_500_000);
        var lines = new List<string> { ChromeTraceWriter.Begin };
        lines.AddRange(first.Concat(second).SelectMany(writer.Add));
        lines.Add(ChromeTraceWriter.End);

        using var json = JsonDocument.Parse(string.Join("\n", lines));
        var starts = json.RootElement.EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "X").Select(e => e.GetProperty("ts").GetDecimal());
        Assert.Equal([10m, 2_510m], starts);
    }
}
