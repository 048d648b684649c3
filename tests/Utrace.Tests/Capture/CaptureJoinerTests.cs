using System.Runtime.InteropServices;
using System.Text;
using Utrace.Native.Bpf;
using Utrace.Native.Capture;
using Xunit;

namespace Utrace.Tests.Capture;

public sealed class CaptureJoinerTests
{
    private const uint Tid = 77;

    [Fact]
    public void GivesACallTheArgumentsStringsAndReturnValueSentBeforeIt()
    {
        var joiner = new CaptureJoiner();
        joiner.Add(Arguments(depth: 1, start: 500, function: 3, 0x1000, 42));
        joiner.Add(String(depth: 1, argument: 0, "hello", truncated: false));
        joiner.Add(ReturnValue(depth: 1, start: 500, function: 3, value: 5));
        var captured = joiner.Take(Call(depth: 1, start: 500, function: 3));
        Assert.NotNull(captured);
        Assert.Equal([0x1000UL, 42, 0, 0, 0, 0], captured.Registers!);
        Assert.Equal("hello", captured.Strings![0]);
        Assert.Null(captured.Strings[1]);
        Assert.Equal(5UL, captured.ReturnValue);
        Assert.Null(joiner.Take(Call(depth: 1, start: 500, function: 3)));
    }

    [Fact]
    public void KeepsAParentsArgumentsWhileItsChildrenComeAndGo()
    {
        var joiner = new CaptureJoiner();
        joiner.Add(Arguments(depth: 0, start: 100, function: 1, 10));
        joiner.Add(Arguments(depth: 1, start: 200, function: 1, 9));
        Assert.Equal(9UL, joiner.Take(Call(depth: 1, start: 200, function: 1))!.Registers![0]);
        Assert.Equal(10UL, joiner.Take(Call(depth: 0, start: 100, function: 1))!.Registers![0]);
    }

    [Fact]
    public void DropsTheCaptureOfACallTheKernelFilteredOut()
    {
        // A call that -MinDuration filtered sent its arguments but no record: the next call at
        // that depth replaces them, and a record never takes another call's values.
        var joiner = new CaptureJoiner();
        joiner.Add(Arguments(depth: 2, start: 100, function: 1, 1));
        joiner.Add(Arguments(depth: 2, start: 300, function: 1, 2));
        Assert.Null(joiner.Take(Call(depth: 2, start: 100, function: 1)));
        Assert.Equal(2UL, joiner.Take(Call(depth: 2, start: 300, function: 1))!.Registers![0]);
    }

    [Fact]
    public void ReadsAStringRecordThatEndsAfterItsString()
    {
        // The kernel sends a string record only as long as its string: header, bytes, NUL.
        var joiner = new CaptureJoiner();
        joiner.Add(Arguments(depth: 0, start: 1, function: 0, 0x1000));
        var whole = String(depth: 0, argument: 0, "hello, capture", truncated: false);
        var dataOffset = (int)Marshal.OffsetOf<StringRecord>(nameof(StringRecord.Data));
        joiner.Add(whole.AsSpan(0, dataOffset + "hello, capture".Length + 1));
        Assert.Equal("hello, capture", joiner.Take(Call(depth: 0, start: 1, function: 0))!.Strings![0]);
    }

    [Fact]
    public void MarksACutStringAndLeavesAFailedReadUnread()
    {
        var joiner = new CaptureJoiner();
        joiner.Add(Arguments(depth: 0, start: 1, function: 0, 0x1000, 0x2000));
        joiner.Add(String(depth: 0, argument: 0, new string('x', Abi.StringBytes - 1), truncated: true));
        joiner.Add(String(depth: 0, argument: 1, "", truncated: false, length: -14));
        var strings = joiner.Take(Call(depth: 0, start: 1, function: 0))!.Strings!;
        Assert.Equal(new string('x', Abi.StringBytes - 1) + "…", strings[0]);
        Assert.Null(strings[1]);
    }

    private static EventRecord Call(uint depth, ulong start, uint function) =>
        new() { Type = RecordType.Call, Tid = Tid, Pid = Tid, Depth = depth, StartNs = start, FunctionId = function, CallerId = EventRecord.NoCaller };

    private static byte[] Arguments(uint depth, ulong start, uint function, params ulong[] values)
    {
        var record = new ArgumentsRecord { Type = RecordType.Arguments, Tid = Tid, Depth = depth, StartNs = start, FunctionId = function };
        values.CopyTo((Span<ulong>)record.Values);
        return Bytes(record);
    }

    private static byte[] String(uint depth, uint argument, string text, bool truncated, int? length = null)
    {
        var record = new StringRecord { Type = RecordType.String, Tid = Tid, Depth = depth, Argument = argument, Truncated = truncated ? 1u : 0u };
        record.Length = length ?? Encoding.UTF8.GetBytes(text, (Span<byte>)record.Data);
        return Bytes(record);
    }

    private static byte[] ReturnValue(uint depth, ulong start, uint function, ulong value) =>
        Bytes(new ReturnValueRecord { Type = RecordType.ReturnValue, Tid = Tid, Depth = depth, StartNs = start, FunctionId = function, Value = value });

    private static byte[] Bytes<T>(T record) where T : struct => MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref record, 1)).ToArray();
}
