using System.Management.Automation;
using Utrace.Native.Bpf;
using Utrace.Native.Elf;
using Utrace.Native.Tracing;
using Xunit;

namespace Utrace.Tests.PowerShell;

/// <summary>CallEvents in a hosted PowerShell: filtering, sorting, grouping, export and the default view.</summary>
public sealed class CallEventPipelineTests : IClassFixture<HostedPowerShell>
{
    private readonly HostedPowerShell _shell;
    private readonly CallEvent[] _events;

    public CallEventPipelineTests(HostedPowerShell shell)
    {
        _shell = shell;
        FunctionInfo[] functions =
        [
            new(new ElfFunction("main", FunctionKind.Function, 0x1000, 0x1000, 16), "demo", "/demo"),
            new(new ElfFunction("_ZN3geo5Shape4areaEv", FunctionKind.Function, 0x1100, 0x1100, 16), "demo", "/demo"),
            new(new ElfFunction("usleep", FunctionKind.LibraryCall, 0x1200, 0x1200, 16), "libc.so.6", "/demo"),
        ];
        var context = TraceContext.StartingNow(functions);
        var t0 = context.StartMonotonicNs;
        _events =
        [
            Event(context, t0 + 10, 800, 800, function: 1, caller: 0, depth: 1, tid: 101),
            Event(context, t0 + 900, 2_500_000, 2_500_000, function: 2, caller: 0, depth: 1, tid: 101),
            Event(context, t0 + 3_000_000, 1_200_000, 1_200_000, function: 2, caller: 0, depth: 1, tid: 102),
            Event(context, t0, 5_000_000, 500_000, function: 0, caller: EventRecord.NoCaller, depth: 0, tid: 101),
        ];
    }

    [Theory]
    [InlineData("Where-Object Duration -gt 1ms", 3)]
    [InlineData("Where-Object Duration -lt 250us", 1)]
    [InlineData("Where-Object Duration -ge 2.5ms", 2)]
    [InlineData("Where-Object Duration -gt 100ns", 4)]
    [InlineData("Where-Object Duration -ge 2.5s", 0)]
    [InlineData("Where-Object Duration -gt ([timespan]::FromMilliseconds(2))", 2)]
    [InlineData("Where-Object SelfDuration -gt 1ms", 2)]
    public void FiltersByDuration(string filter, int expected) =>
        Assert.Equal(expected, _shell.Run($"@($input | {filter}).Count", _events)[0].BaseObject);

    [Fact]
    public void SortsByDuration()
    {
        var names = _shell.Run("$input | Sort-Object Duration | ForEach-Object Function", _events).Select(o => o.BaseObject);
        Assert.Equal(["geo::Shape::area()", "usleep", "usleep", "main"], names);
    }

    [Fact]
    public void GroupsAndExportsCsv()
    {
        var csv = Path.Combine(Directory.CreateTempSubdirectory("utrace-csv").FullName, "slow.csv");
        _shell.Run("$input | Where Duration -gt 1ms | Group-Object Function | Export-Csv $csv", _events,
            new Dictionary<string, object?> { ["csv"] = csv });
        var rows = _shell.Run("Import-Csv $csv | Sort-Object Name | ForEach-Object { \"$($_.Name)=$($_.Count)\" }", null,
            new Dictionary<string, object?> { ["csv"] = csv });
        Assert.Equal(["main=1", "usleep=2"], rows.Select(r => r.BaseObject));
    }

    [Fact]
    public void ExportsPlainNumbersForArithmetic()
    {
        // A CSV round trip keeps every value as text; Start is wall-clock time and left out.
        var row = _shell.Run(
            "$input | Select-Object -First 1 | ConvertTo-Csv | ConvertFrom-Csv | ForEach-Object { $_.PSObject.Properties | Where-Object Name -NE 'Start' | ForEach-Object { \"$($_.Name)=$($_.Value)\" } }",
            _events);
        Assert.Equal(
            ["Function=geo::Shape::area()", "Module=demo", "Program=", "SourceFile=", "SourceLine=", "ProcessId=100", "ThreadId=101", $"ComputerName={Environment.MachineName}", "Depth=1", "Caller=main",
             "Duration=800 ns", "SelfDuration=800 ns", "RawDuration=800 ns", "ProbeCost=0 ns", "CallsInside=0", "ProbeDominated=False", "OnCpu=0 ns",
             "StartNs=10", "DurationNs=800", "SelfNs=800", "RawDurationNs=800", "RawSelfNs=800", "ProbeCostNs=0", "OnCpuNs=0", "RawOnCpuNs=0",
             "HasDuration=True",
             "Arguments=", "ReturnValue="],
            row.Select(r => r.BaseObject));
    }

    [Fact]
    public void DefaultViewIndentsFunctionsByDepth()
    {
        var text = (string)_shell.Run("$input | Out-String -Width 80", _events)[0].BaseObject;
        var lines = text.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToArray();
        Assert.Matches(@"^\s*Duration\s+ThreadId\s+Function$", lines[0]);
        Assert.Matches(@"^\s*800 ns\s+101   geo::Shape::area\(\)$", lines[2]);
        Assert.Matches(@"^\s*2\.500 ms\s+101   usleep$", lines[3]);
        Assert.Matches(@"^\s*5\.000 ms\s+101 main$", lines[5]);
    }

    [Fact]
    public void CallerAndModuleComeFromTheFunctionTable()
    {
        var e = _events[1];
        Assert.Equal("usleep", e.Function);
        Assert.Equal("libc.so.6", e.Module);
        Assert.Equal("main", e.Caller);
        Assert.Null(_events[3].Caller);
        Assert.Equal(900, e.StartNs);
        Assert.Equal(2_500_000, e.Duration.Nanoseconds);
    }

    [Fact]
    public void ACallEventReadBackFromClixmlIsACallEventAgain()
    {
        var xml = Path.Combine(Directory.CreateTempSubdirectory("utrace-clixml").FullName, "events.xml");
        var back = _shell.Run("$input | Export-Clixml $xml; Import-Clixml $xml", _events, new Dictionary<string, object?> { ["xml"] = xml });
        Assert.Equal(_events.Length, back.Count);
        Assert.All(back, o => Assert.IsType<CallEvent>(o.BaseObject));
        Assert.Equal(_events.Select(Describe), back.Select(o => Describe((CallEvent)o.BaseObject)));
    }

    [Fact]
    public void ADeserializedCallEventThatWasNotRehydratedStillHasDurations()
    {
        // What SSH remoting delivers: a property bag without Duration and SelfDuration, which the module's types add back.
        var durations = _shell.Run(
            "$bag = [pscustomobject]@{ Function = 'f'; DurationNs = 2500000; SelfNs = 800 }; $bag.PSObject.TypeNames.Insert(0, 'Deserialized.Utrace.CallEvent'); $bag.Duration; $bag.SelfDuration; [bool]($bag | Where-Object Duration -gt 1ms)");
        Assert.Equal([Duration.FromNanoseconds(2_500_000), Duration.FromNanoseconds(800), (object)true], durations.Select(o => o.BaseObject));
    }

    private static string Describe(CallEvent e) =>
        $"{e.ComputerName} {e.Function} {e.Module} {e.Caller} {e.ProcessId} {e.ThreadId} {e.Depth} {e.Start} {e.StartNs} {e.Duration} {e.DurationNs} {e.SelfNs} {e.HasDuration}";

    private static CallEvent Event(TraceContext context, ulong start, ulong duration, ulong self, uint function, uint caller, uint depth, uint tid) =>
        new(new EventRecord
        {
            Type = RecordType.Call, StartNs = start, DurationNs = duration, SelfNs = self, FunctionId = function, CallerId = caller,
            Depth = depth, Pid = 100, Tid = tid,
        }.ToTracedCall(context, null));
}
