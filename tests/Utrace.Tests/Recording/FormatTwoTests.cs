using Apache.Arrow;
using Apache.Arrow.Ipc;
using Utrace.Native.Recording;
using Xunit;

namespace Utrace.Tests.Recording;

/// <summary>Format 2: the columns a data tool reads without the schema metadata, and the 1.x files it still reads.</summary>
public sealed class FormatTwoTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-format2-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ReadsAFileOfFormat13AsItWasRecorded()
    {
        // Recorded by the 1.3 writer: fib 5 with fib and main traced, calibrated.
        using var file = TraceFile.Open(RepoPaths.File("tests/fixtures/traces/fib5-format-1.3.arrow"));
        Assert.Equal(new Version(1, 3), file.FormatVersion);
        var events = file.ReadEvents().ToArray();
        Assert.Equal(16, events.Length);
        Assert.Equal(15, events.Count(e => e.Function == "fib"));
        Assert.Equal(("main", "fib", "fib", "vm"), (events[^1].Function, events[^1].Module, events[^1].Program, events[^1].ComputerName));
        Assert.Equal((598_649, 1_001_871, 403_222, 481_363, 593_906, 51),
            (events.Sum(e => e.DurationNs), events.Sum(e => e.RawDurationNs), events.Sum(e => e.ProbeCostNs), events.Sum(e => e.SelfNs),
                events.Sum(e => e.RawSelfNs), events.Sum(e => e.CallsInside)));
        Assert.All(events, e => Assert.True(e.HasDuration));
    }

    [Fact]
    public void EveryColumnIsNamedTypedAndDescribedForAReaderWithoutTheMetadata()
    {
        var path = Path.Combine(_folder, "t.arrows");
        SyntheticTrace.Write(path, 10);
        using var stream = File.OpenRead(path);
        using var arrow = new ArrowStreamReader(stream);
        Assert.Equal(
            "function:String module:String program:String caller:String host:String function_id:Int32 caller_id:Int32 pid:Int32 tid:Int32 depth:Int32 " +
            "start:Timestamp start_ns:UInt64 kind:String duration:Duration self_duration:Duration raw_duration:Duration raw_self_duration:Duration " +
            "probe_cost:Duration self_probe_cost:Duration calls_inside:Int32 on_cpu:Duration raw_on_cpu:Duration",
            string.Join(" ", arrow.Schema.FieldsList.Select(f => $"{f.Name}:{f.DataType.TypeId}")));
        Assert.All(arrow.Schema.FieldsList, f => Assert.NotEmpty(f.Metadata[TraceFileFormat.MeaningKey]));
        Assert.Equal("ns", arrow.Schema.GetFieldByName("duration").Metadata[TraceFileFormat.UnitKey]);
        Assert.Equal("UTC", ((Apache.Arrow.Types.TimestampType)arrow.Schema.GetFieldByName("start").DataType).Timezone);

        using var batch = arrow.ReadNextRecordBatch();
        using var file = TraceFile.Open(path);
        var events = file.ReadEvents().ToArray();
        var starts = (TimestampArray)batch.Column("start");
        var names = (StringArray)batch.Column("function");
        var callers = (StringArray)batch.Column("caller");
        for (var i = 0; i < events.Length; i++)
        {
            Assert.Equal(events[i].Start.UnixNanoseconds, starts.GetValue(i));
            Assert.Equal(events[i].Function, names.GetString(i));
            Assert.Equal(events[i].Caller, callers.GetString(i));
        }
    }
}
