using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Utrace.Native.Tracing;
using Xunit;

namespace Utrace.Tests.Recording;

public sealed class TraceFileTests : IDisposable
{
    // Two full record batches and a part-full one.
    private const long EventCount = 2 * 16_384 + 7_232;

    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-file-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void FunctionsAddedWhileRecordingAreInTheFileWithTheirProgram()
    {
        var path = Path.Combine(_folder, "grown.arrow");
        var functions = new GrowingFunctionTable(SyntheticTrace.Functions);
        var writer = TraceFileWriter.Create(path, dropWhenBehind: false);
        var sink = (IEventSink)writer;
        sink.Begin(new TraceContext(functions, SyntheticTrace.StartMonotonicNs, SyntheticTrace.StartTime), SyntheticTrace.Origin);
        sink.OnEvent(SyntheticTrace.Call(0));
        // More than the first table's four-fold room could hold without the fixed reserve.
        var added = Enumerable.Range(0, 2_000)
            .Select(i => new FunctionInfo($"child_{i}", $"child_{i}", "child", FunctionKind.Function, (ulong)i, 8, "/bin/child", "child"))
            .ToArray();
        var first = functions.Append(added);
        var context = new TraceContext(functions, SyntheticTrace.StartMonotonicNs, SyntheticTrace.StartTime) { HostName = SyntheticTrace.Context.HostName };
        sink.OnEvent((SyntheticTrace.Record(1) with { FunctionId = (uint)(first + 1_999), CallerId = (uint)first }).ToTracedCall(context, null));
        sink.Complete();

        using var file = TraceFile.Open(path);
        Assert.Equal(SyntheticTrace.Functions.Length + 2_000, file.Context.Functions.Count);
        var events = file.ReadEvents().ToArray();
        Assert.Equal(["main", "child_1999"], events.Select(e => e.Function));
        Assert.Equal("child_0", events[1].Caller);
        Assert.Equal("child", events[1].Program);
        Assert.Null(events[0].Program);
    }

    [Fact]
    public void ReadsBackEveryEventAndTheHeaderAsWritten()
    {
        var path = Path.Combine(_folder, "t.arrow");
        var writer = SyntheticTrace.Write(path, EventCount);
        Assert.Equal(EventCount, writer.EventsWritten);
        Assert.Equal(0, writer.EventsDropped);
        Assert.Null(writer.Failure);

        using var file = TraceFile.Open(path);
        Assert.Equal(new Version(2, 0), file.FormatVersion);
        Assert.Equal(SyntheticTrace.Origin.Command, file.Origin.Command);
        Assert.Equal([SyntheticTrace.Pid], file.Origin.ProcessIds);
        Assert.Equal("testhost", file.Origin.HostName);
        Assert.Equal("testhost", file.Context.HostName);
        Assert.Equal("6.18.0-test", file.Origin.KernelRelease);
        Assert.Equal(SyntheticTrace.StartMonotonicNs, file.Context.StartMonotonicNs);
        Assert.Equal(SyntheticTrace.StartTime, file.Context.StartTime);
        Assert.Equal(DateTimeKind.Utc, file.Context.StartTime.Kind);
        Assert.Equal(SyntheticTrace.Functions.Length, file.Context.Functions.Count);
        for (var f = 0; f < SyntheticTrace.Functions.Length; f++)
        {
            var (expected, actual) = (SyntheticTrace.Functions[f], file.Context.Functions[f]);
            Assert.Equal((expected.Name, expected.RawName, expected.Module, expected.Kind, expected.Offset, expected.Size, expected.Path),
                (actual.Name, actual.RawName, actual.Module, actual.Kind, actual.Offset, actual.Size, actual.Path));
        }

        long i = 0;
        foreach (var e in file.ReadEvents())
        {
            var expected = new CallEvent(SyntheticTrace.Context, SyntheticTrace.FunctionId(i), SyntheticTrace.CallerId(i), SyntheticTrace.Pid,
                SyntheticTrace.Tid(i), SyntheticTrace.Depth(i), SyntheticTrace.Start(i), SyntheticTrace.Duration(i), SyntheticTrace.Self(i));
            AssertSameEvent(expected, e);
            Assert.Equal("testhost", e.ComputerName);
            i++;
        }
        Assert.Equal(EventCount, i);
        Assert.False(file.WasCut);
    }

    [Fact]
    public void AWriterThatDropsWhenBehindAccountsForEveryEvent()
    {
        // Fed faster than it can write (64 chunks at once, its queue holds 32): whatever the
        // timing, every event is in the file or counted as dropped, never both, never lost.
        const long fed = 64 * 16_384;
        var path = Path.Combine(_folder, "t.arrow");
        var writer = TraceFileWriter.Create(path, dropWhenBehind: true);
        var sink = (IEventSink)writer;
        sink.Begin(SyntheticTrace.Context, SyntheticTrace.Origin);
        for (long i = 0; i < fed; i++)
            sink.OnEvent(SyntheticTrace.Call(i));
        sink.Complete();
        Assert.Equal(fed, writer.EventsWritten + writer.EventsDropped);
        using var file = TraceFile.Open(path);
        Assert.Equal(writer.EventsWritten, file.ReadEvents().LongCount());
        Assert.False(file.WasCut);
    }

    [Fact]
    public void IsPrivateToItsOwnerAndGroup()
    {
        var path = Path.Combine(_folder, "t.arrow");
        File.WriteAllText(path, "an older, world-readable file");
        File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110);
        SyntheticTrace.Write(path, 10);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
    }

    [Fact]
    public void AFileCutInsideABatchReadsTheBatchesBeforeAndSaysItWasCut()
    {
        var path = Path.Combine(_folder, "t.arrow");
        SyntheticTrace.Write(path, EventCount);
        // The last batch holds 7,232 events of 44 bytes: cutting 1,000 bytes before its end cuts inside it.
        using (var stream = File.OpenWrite(path))
            stream.SetLength(stream.Length - 1_000);
        using var file = TraceFile.Open(path);
        Assert.Equal(2 * 16_384, file.ReadEvents().LongCount());
        Assert.True(file.WasCut);
    }

    [Fact]
    public void AFileWithoutItsEndMarkerReadsEveryBatchAndSaysItWasCut()
    {
        var path = Path.Combine(_folder, "t.arrow");
        SyntheticTrace.Write(path, EventCount);
        using (var stream = File.OpenWrite(path))
            stream.SetLength(stream.Length - TraceFileFormat.EndOfStream.Length);
        using var file = TraceFile.Open(path);
        Assert.Equal(EventCount, file.ReadEvents().LongCount());
        Assert.True(file.WasCut);
    }

    [Fact]
    public void EventsAreStreamedOnce()
    {
        var path = Path.Combine(_folder, "t.arrow");
        SyntheticTrace.Write(path, 10);
        using var file = TraceFile.Open(path);
        Assert.Equal(10, file.ReadEvents().Count());
        Assert.Throws<InvalidOperationException>(() => file.ReadEvents());
    }

    [Fact]
    public void AMissingFileIsNotFound()
    {
        AssertRefused(Path.Combine(_folder, "none.arrow"), TraceErrorKind.NotFound, "does not exist");
    }

    [Fact]
    public void AnEmptyFileIsInvalidData()
    {
        var path = Path.Combine(_folder, "empty.arrow");
        File.WriteAllBytes(path, []);
        AssertRefused(path, TraceErrorKind.InvalidData, "is empty");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100_000)]
    public void RandomBytesAreNotATrace(int length)
    {
        var path = Path.Combine(_folder, "random.arrow");
        File.WriteAllBytes(path, RandomBytes(length));
        AssertRefused(path, TraceErrorKind.InvalidData, "is not a Utrace trace file");
    }

    [Fact]
    public void RandomBytesBehindAValidStreamPrefixAreNotATrace()
    {
        var path = Path.Combine(_folder, "random.arrow");
        var bytes = RandomBytes(4096);
        BitConverter.GetBytes(0xffffffffu).CopyTo(bytes, 0);
        BitConverter.GetBytes(1000).CopyTo(bytes, 4);
        File.WriteAllBytes(path, bytes);
        AssertRefused(path, TraceErrorKind.InvalidData, "is not a Utrace trace file");
    }

    [Fact]
    public void ANewerMajorFormatVersionIsRefused()
    {
        var path = WriteWithMetadata(TraceFileFormat.VersionKey, "3.0");
        AssertRefused(path, TraceErrorKind.NotSupported, "format version 3.0, written by a newer Utrace; this one reads version 2.x");
    }

    [Fact]
    public void ANewerMinorFormatVersionIsRead()
    {
        var path = WriteWithMetadata(TraceFileFormat.VersionKey, "2.7");
        using var file = TraceFile.Open(path);
        Assert.Equal(new Version(2, 7), file.FormatVersion);
        Assert.Empty(file.ReadEvents());
    }

    [Fact]
    public void AnArrowStreamThatIsNotAUtraceTraceSaysSo()
    {
        var path = Path.Combine(_folder, "other.arrow");
        var schema = new Schema([new Field("x", Int32Type.Default, false)], null);
        using (var stream = File.Create(path))
        using (var writer = new ArrowStreamWriter(stream, schema))
        {
            writer.WriteStart();
            writer.WriteEnd();
        }
        AssertRefused(path, TraceErrorKind.InvalidData, "is an Arrow stream, but not a Utrace trace");
    }

    [Fact]
    public void ADamagedFunctionTableIsInvalidData()
    {
        var path = WriteWithMetadata(TraceFileFormat.FunctionsKey, "[{\"name\": ");
        AssertRefused(path, TraceErrorKind.InvalidData, "is damaged: its metadata does not parse");
    }

    [Fact]
    public void AnEventThatNamesNoFunctionOfTheTableIsInvalidData()
    {
        var path = Path.Combine(_folder, "t.arrow");
        var sink = (IEventSink)TraceFileWriter.Create(path, dropWhenBehind: false);
        sink.Begin(SyntheticTrace.Context, SyntheticTrace.Origin);
        sink.OnEvent(SyntheticTrace.Call(0));
        // The call names its function in a larger table than the file's: the writer takes the name from the call.
        var larger = new TraceContext(Enumerable.Range(0, 100).Select(i => SyntheticTrace.Functions[i % SyntheticTrace.Functions.Length]).ToArray(),
            SyntheticTrace.StartMonotonicNs, SyntheticTrace.StartTime);
        sink.OnEvent((SyntheticTrace.Record(1) with { FunctionId = 99 }).ToTracedCall(larger, null));
        sink.Complete();
        using var file = TraceFile.Open(path);
        var error = Assert.Throws<UtraceException>(() => file.ReadEvents().Count());
        Assert.Equal(TraceErrorKind.InvalidData, error.Kind);
        Assert.Contains("is damaged: an event names function 99, which its function table of 3 does not have", error.Message);
    }

    [Fact]
    public void AFileInAMissingFolderFailsAtCreation()
    {
        var path = Path.Combine(_folder, "no", "such", "t.arrow");
        var error = Assert.Throws<UtraceException>(() => TraceFileWriter.Create(path));
        Assert.Equal(TraceErrorKind.NotFound, error.Kind);
        Assert.Contains("its folder does not exist", error.Message);
    }

    [Fact]
    public void AWriterWhoseTraceNeverBeganLeavesNoFile()
    {
        var path = Path.Combine(_folder, "t.arrow");
        TraceFileWriter.Create(path).Dispose();
        Assert.False(File.Exists(path));
    }

    private string WriteWithMetadata(string key, string value)
    {
        var path = Path.Combine(_folder, "edited.arrow");
        var schema = TraceFileFormat.BuildSchema(SyntheticTrace.Context, SyntheticTrace.Origin);
        var metadata = schema.Metadata.ToDictionary();
        metadata[key] = value;
        using var stream = File.Create(path);
        using var writer = new ArrowStreamWriter(stream, new Schema(schema.FieldsList, metadata));
        writer.WriteStart();
        writer.WriteEnd();
        return path;
    }

    private static void AssertRefused(string path, TraceErrorKind kind, string text)
    {
        var error = Assert.Throws<UtraceException>(() => TraceFile.Open(path));
        Assert.Equal(kind, error.Kind);
        Assert.Contains(text, error.Message);
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    internal static void AssertSameEvent(CallEvent expected, CallEvent actual)
    {
        Assert.Equal(
            (expected.Function, expected.Module, expected.Caller, expected.FunctionId, expected.CallerId, expected.ProcessId, expected.ThreadId, expected.Depth),
            (actual.Function, actual.Module, actual.Caller, actual.FunctionId, actual.CallerId, actual.ProcessId, actual.ThreadId, actual.Depth));
        Assert.Equal(
            (expected.StartMonotonicNs, expected.Start, expected.StartNs, expected.Duration, expected.DurationNs, expected.SelfDuration, expected.SelfNs),
            (actual.StartMonotonicNs, actual.Start, actual.StartNs, actual.Duration, actual.DurationNs, actual.SelfDuration, actual.SelfNs));
    }
}
