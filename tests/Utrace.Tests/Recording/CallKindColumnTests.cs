using Apache.Arrow;
using Apache.Arrow.Ipc;
using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Xunit;

namespace Utrace.Tests.Recording;

/// <summary>The kind column: whether each call of a trace file was timed or reported at its entry.</summary>
public sealed class CallKindColumnTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-kind-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void EachCallKeepsItsKindThroughTheFile()
    {
        // Events 0, 3, 6, 9 were reported at their entry (entry-only: no duration, no self time).
        bool EntryOnly(long i) => i % 3 == 0;
        var path = Path.Combine(_folder, "kinds.arrow");
        var sink = (IEventSink)TraceFileWriter.Create(path, dropWhenBehind: false);
        sink.Begin(SyntheticTrace.Context, SyntheticTrace.Origin);
        for (long i = 0; i < 10; i++)
        {
            var record = EntryOnly(i)
                ? SyntheticTrace.Record(i) with { Type = RecordType.Entry, DurationNs = 0, SelfNs = 0 }
                : SyntheticTrace.Record(i) with { Type = RecordType.Call };
            sink.OnEvent(record.ToTracedCall(SyntheticTrace.Context, null));
        }
        sink.Complete();

        using (var stream = File.OpenRead(path))
        using (var arrow = new ArrowStreamReader(stream))
        {
            using var batch = arrow.ReadNextRecordBatch();
            var kinds = (StringArray)batch.Column(TraceFileFormat.Kind);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => EntryOnly(i) ? "entry_only" : "timed"), Enumerable.Range(0, 10).Select(i => kinds.GetString(i)));
            // An entry-only call has no duration: null, not 0.
            var durations = (DurationArray)batch.Column(TraceFileFormat.Duration);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => EntryOnly(i) ? (long?)null : SyntheticTrace.Duration(i)), Enumerable.Range(0, 10).Select(i => durations.GetValue(i)));
        }
        using (var file = TraceFile.Open(path))
        {
            Assert.Equal(new Version(2, 0), file.FormatVersion);
            var events = file.ReadEvents().ToArray();
            Assert.Equal(Enumerable.Range(0, 10).Select(i => !EntryOnly(i)), events.Select(e => e.HasDuration));
            Assert.Equal(Enumerable.Range(0, 10).Select(i => EntryOnly(i) ? 0 : SyntheticTrace.Duration(i)), events.Select(e => e.DurationNs));
        }
        using (var file = TraceFile.Open(path))
        {
            var kinds = file.ReadBatches().SelectMany(b => b.Kinds.ToArray()).ToArray();
            Assert.Equal(Enumerable.Range(0, 10).Select(i => EntryOnly(i) ? CallKind.EntryOnly : CallKind.Timed), kinds);
        }
    }

    [Fact]
    public void AFileFromBeforeTheKindColumnReadsAsTimedCalls()
    {
        using var file = TraceFile.Open(RepoPaths.File("tests/fixtures/traces/fib5-format-1.0.arrow"));
        Assert.Equal(new Version(1, 0), file.FormatVersion);
        var kinds = file.ReadBatches().SelectMany(b => b.Kinds.ToArray()).ToArray();
        Assert.Equal(Enumerable.Repeat(CallKind.Timed, 16), kinds);
    }
}
