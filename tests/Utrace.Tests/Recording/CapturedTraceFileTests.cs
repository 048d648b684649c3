using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Xunit;

namespace Utrace.Tests.Recording;

public sealed class CapturedTraceFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-capture-file-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ReadsAFileOfFormat10AsItWasRecorded()
    {
        // Recorded by Utrace before captures existed (format 1.0): fib 5 with fib and main traced.
        using var file = TraceFile.Open(RepoPaths.File("tests/fixtures/traces/fib5-format-1.0.arrow"));
        Assert.Equal(new Version(1, 0), file.FormatVersion);
        Assert.Null(file.Context.Captures);
        var events = file.ReadEvents().ToArray();
        Assert.Equal(16, events.Length);
        Assert.Equal(15, events.Count(e => e.Function == "fib"));
        Assert.Equal("main", events[^1].Function);
        Assert.Equal(185_869, events.Sum(e => e.DurationNs));
        // It has no kind column: every call reads as timed, with its duration.
        Assert.All(events, e => Assert.True(e.HasDuration));
        Assert.All(events, e => Assert.Null(e.Arguments));
        Assert.All(events, e => Assert.Null(e.ReturnValue));
        Assert.False(file.WasCut);
    }

    [Fact]
    public void ReadsBackTheCapturedValuesAndSpecsAsWritten()
    {
        // main: no spec; area: a string and an int, returning a long; malloc: only its return value.
        CaptureSpec?[] specs = [null, CaptureSpec.Parse("string, int -> long"), CaptureSpec.Parse("-> ptr")];
        var context = new TraceContext(SyntheticTrace.Functions, SyntheticTrace.StartMonotonicNs, SyntheticTrace.StartTime, specs);
        CapturedCall?[] captured =
        [
            null,
            new CapturedCall([0x5000, 0xffff_ffff, 0, 0, 0, 0], ["a \"b\"…", null, null, null, null, null], unchecked((ulong)-3L)),
            new CapturedCall(null, null, 0x7f00_0000_1000),
            new CapturedCall([0x10, 4, 0, 0, 0, 0], [null, null, null, null, null, null], null),
        ];
        int[] functionIds = [0, 1, 2, 1];
        var path = Path.Combine(_folder, "captured.arrow");
        var writer = TraceFileWriter.Create(path, dropWhenBehind: false);
        var sink = (IEventSink)writer;
        sink.Begin(context, SyntheticTrace.Origin);
        for (var i = 0; i < captured.Length; i++)
            sink.OnEvent((SyntheticTrace.Record(i) with { FunctionId = (uint)functionIds[i] }).ToTracedCall(context, captured[i]));
        sink.Complete();

        using var file = TraceFile.Open(path);
        Assert.Equal(new Version(2, 0), file.FormatVersion);
        Assert.Equal(["", "string, int -> long", "-> ptr"], file.Context.Captures!.Select(spec => spec?.ToString() ?? ""));
        var events = file.ReadEvents().ToArray();
        Assert.Equal(
            ["main  ", "geo::Shape::area() const \"a \\\"b\\\"…\", -1 -3", "malloc  0x7f0000001000", "geo::Shape::area() const <unreadable 0x10>, 4 "],
            events.Select(e => $"{e.Function} {e.Arguments} {e.ReturnValue}"));
        Assert.IsType<int>(events[1].Arguments![1]);
        Assert.IsType<long>(events[1].ReturnValue);
        Assert.IsType<Pointer>(events[2].ReturnValue);
    }
}
