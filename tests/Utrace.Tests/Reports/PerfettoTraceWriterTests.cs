using Google.Protobuf;
using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

public sealed class PerfettoTraceWriterTests
{
    // What a viewer draws of one track event: B/E/I, the event's name (or "" for an end), its track and time.
    private static List<string> Events(byte[] trace)
    {
        var names = new Dictionary<ulong, string>();
        var events = new List<string>();
        foreach (var packet in Fields(trace).Where(f => f.Number == 1))
        {
            var fields = Fields(packet.Bytes!);
            foreach (var interned in fields.Where(f => f.Number == 12).SelectMany(f => Fields(f.Bytes!)).Where(f => f.Number == 2))
            {
                var entry = Fields(interned.Bytes!);
                names[entry.Single(f => f.Number == 1).Value] = System.Text.Encoding.UTF8.GetString(entry.Single(f => f.Number == 2).Bytes!);
            }
            if (fields.SingleOrDefault(f => f.Number == 11) is not { Bytes: { } trackEvent })
                continue;
            var e = Fields(trackEvent);
            var type = e.Single(f => f.Number == 9).Value switch { 1 => "B", 2 => "E", 3 => "I", var other => other.ToString() };
            var name = e.SingleOrDefault(f => f.Number == 10) is { Bytes: null } iid ? names[iid.Value] : "";
            events.Add($"{type}{name} track {e.Single(f => f.Number == 11).Value} at {fields.Single(f => f.Number == 8).Value}");
        }
        return events;
    }

    private sealed record Field(int Number, ulong Value, byte[]? Bytes);

    private static List<Field> Fields(byte[] message)
    {
        var input = new CodedInputStream(message);
        var fields = new List<Field>();
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            fields.Add(WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited
                ? new Field(number, 0, input.ReadBytes().ToByteArray())
                : new Field(number, input.ReadUInt64(), null));
        }
        return fields;
    }

    private static byte[] Write(IEnumerable<TracedCall> calls)
    {
        using var output = new MemoryStream();
        using (var writer = new PerfettoTraceWriter(output))
        {
            foreach (var call in calls)
                writer.Add(call);
            writer.Complete();
        }
        return output.ToArray();
    }

    [Fact]
    public void WritesEachThreadsCallsInTimeOrderAsNestedSlices()
    {
        // main (thread 100) holds a, which holds b; then c, which begins as a returns (its end comes first). Thread 101 runs work.
        var calls = new CallTree("main", 10, new CallTree("a", 5, new CallTree("b", 3)), new CallTree("c", 2)).Complete(threadId: 100, startNs: 1_000)
            .Concat(new CallTree("work", 7).Complete(threadId: 101, startNs: 500));
        // Track 1 is the process, 2 its thread 100, 3 thread 101 (described as each first appears).
        Assert.Equal([
            "Bmain track 2 at 1000", "Ba track 2 at 1001", "Bb track 2 at 1002", "E track 2 at 1005", "E track 2 at 1009",
            "Bc track 2 at 1009", "E track 2 at 1011", "E track 2 at 1020",
            "Bwork track 3 at 500", "E track 3 at 507"], Events(Write(calls)));
    }

    [Fact]
    public void WritesEntryOnlyCallsAsInstantsAndCallsWithNoOuterReturnAtTheEnd()
    {
        var calls = new[]
        {
            TestCalls.Of("puts", "libc", 100, 100, 1, 40, 0, 0, kind: CallKind.EntryOnly),
            TestCalls.Of("leaf", "prog", 100, 100, 2, 50, 5, 5),
        };
        Assert.Equal(["Iputs track 2 at 40", "Bleaf track 2 at 50", "E track 2 at 55"], Events(Write(calls)));
    }

    [Fact]
    public void WritesCapturedValuesAsDebugAnnotationsWithInternedNames()
    {
        var context = new TraceContext([new FunctionInfo("open", "open", "prog", FunctionKind.Function, 0, 0, "")], 0, Timestamp.FromUnixNanoseconds(0),
            [CaptureSpec.Parse("int, _, string, ptr -> ulong")]);
        var captured = new CapturedCall([unchecked((ulong)-42L), 7, 0x1234, 0x10], [null, null, "hi", null], 3);
        var trace = Write([new TracedCall(context, CallKind.Timed, 0, -1, 100, 100, 0, 0, 5, 5, captured)]);

        var packets = Fields(trace).Where(f => f.Number == 1).Select(p => Fields(p.Bytes!)).ToList();
        var begin = packets.Single(p => p.Any(f => f.Number == 11 && Fields(f.Bytes!).Single(e => e.Number == 9).Value == 1));
        var names = Fields(begin.Single(f => f.Number == 12).Bytes!).Where(f => f.Number == 3).Select(f => Fields(f.Bytes!))
            .ToDictionary(n => n.Single(f => f.Number == 1).Value, n => System.Text.Encoding.UTF8.GetString(n.Single(f => f.Number == 2).Bytes!));
        // Each annotation: its interned name, then its value's field (4 int, 6 string, 7 pointer, 3 uint).
        var annotations = Fields(begin.Single(f => f.Number == 11).Bytes!).Where(f => f.Number == 4).Select(f => Fields(f.Bytes!))
            .Select(a => $"{names[a[0].Value]} {a[1].Number}={(a[1].Bytes is { } text ? System.Text.Encoding.UTF8.GetString(text) : ((long)a[1].Value).ToString(System.Globalization.CultureInfo.InvariantCulture))}");
        Assert.Equal(["arg0 4=-42", "arg2 6=hi", "arg3 7=16", "return 3=3"], annotations);
    }
}
