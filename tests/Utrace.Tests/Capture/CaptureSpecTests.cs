using Xunit;

namespace Utrace.Tests.Capture;

public sealed class CaptureSpecTests
{
    [Theory]
    [InlineData("int", "int")]
    [InlineData("int -> int", "int -> int")]
    [InlineData("  STRING,int->ULONG ", "string, int -> ulong")]
    [InlineData("-> long", "-> long")]
    [InlineData("_, ptr", "_, ptr")]
    [InlineData("int, int ->", "int, int")]
    [InlineData("str, pointer, char, bool, uint, long", "string, ptr, char, bool, uint, long")]
    [InlineData("SHORT, ushort", "short, ushort")]
    [InlineData("< double >,int, <struct>", "<double>, int, <struct>")]
    public void ReadsASpecAndWritesItCanonically(string text, string canonical)
    {
        var spec = CaptureSpec.Parse(text);
        Assert.Equal(canonical, spec.ToString());
        Assert.Equal(canonical, CaptureSpec.Parse(canonical).ToString());
    }

    [Fact]
    public void KnowsEachPositionAndTheReturnType()
    {
        var spec = CaptureSpec.Parse("_, string, int -> ptr");
        Assert.Equal([CaptureType.Skip, CaptureType.String, CaptureType.Int], spec.Arguments);
        Assert.Equal(CaptureType.Pointer, spec.Returns);
        Assert.True(spec.ReadsStrings);
        Assert.False(CaptureSpec.Parse("int").ReadsStrings);
        Assert.Null(CaptureSpec.Parse("int").Returns);
    }

    [Theory]
    [InlineData("flaot", "'flaot', which is not a capture type")]
    [InlineData("double", "SSE registers")]
    [InlineData("int,,int", "an empty type")]
    [InlineData("int, int, int, int, int, int, int", "names 7 arguments: only the first 6 are passed in registers")]
    [InlineData("int -> string", "write 'ptr' for a returned string's address")]
    [InlineData("int -> _", "a return value is captured as a number")]
    [InlineData("int -> int -> int", "more than one '->'")]
    [InlineData("_, _", "captures nothing")]
    [InlineData("->", "captures nothing")]
    [InlineData("", "captures nothing")]
    public void RefusesABadSpecSayingWhy(string text, string why)
    {
        var error = Assert.Throws<FormatException>(() => CaptureSpec.Parse(text));
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{text}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TypesRegistersAsTheSpecSays()
    {
        // Registers hold 64 bits; a 32-bit int is the low half, a char or bool the low byte.
        var spec = CaptureSpec.Parse("int, uint, long, ulong, char, bool -> int");
        var captured = new CapturedCall([0xffff_ffff_ffff_fffe, 0x1_ffff_ffff, ulong.MaxValue, ulong.MaxValue, 0x4241, 0x100], null, 0x1_0000_0007);
        var arguments = spec.ArgumentsOf(captured)!;
        Assert.Equal([-2, uint.MaxValue, -1L, ulong.MaxValue, 'A', false], arguments.ToArray());
        Assert.Equal(7, spec.ReturnValueOf(captured));
        Assert.Equal("-2, 4294967295, -1, 18446744073709551615, 'A', false", arguments.ToString());
    }

    [Fact]
    public void GivesAnUnreadParameterNoRegister()
    {
        // f(double, int, const char *, struct s, long): the int in rdi, the string in rsi; nothing after the struct.
        var spec = CaptureSpec.Parse("<double>, int, string, <struct>, <long> -> short");
        Assert.Equal([-1, 0, 1, -1, -1], Enumerable.Range(0, spec.Arguments.Count).Select(spec.RegisterOf));
        Assert.True(spec.ReadsStrings);
        // Strings are kept by register: rsi's is the second.
        var captured = new CapturedCall([0xffff_fff9, 0x5000, 3, 4, 5, 6], [null, "label", null, null, null, null], 0x1_8001);
        var arguments = spec.ArgumentsOf(captured)!;
        Assert.Equal([new UnreadArgument("double"), -7, "label", new UnreadArgument("struct"), new UnreadArgument("long")], arguments.ToArray());
        Assert.Equal((short)-32767, spec.ReturnValueOf(captured));
        Assert.Equal("<double>, -7, \"label\", <struct>, <long>", arguments.ToString());
    }

    [Fact]
    public void CountsOnlyTheParametersItReadsAgainstTheSixRegisters() =>
        Assert.Equal(7, CaptureSpec.Parse("<double>, int, int, int, int, int, int").Arguments.Count);

    [Fact]
    public void RefusesAnUnreadReturnValueAndASpecOfUnreadParametersOnly()
    {
        Assert.Contains("a return value is captured as a number", Assert.Throws<FormatException>(() => CaptureSpec.Parse("int -> <double>")).Message, StringComparison.Ordinal);
        Assert.Contains("captures nothing", Assert.Throws<FormatException>(() => CaptureSpec.Parse("<double>, <struct>")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TellsAStringFromNullAndFromAnUnreadableAddress()
    {
        var spec = CaptureSpec.Parse("string, string, string, _, ptr");
        var captured = new CapturedCall([0x5000, 0, 0x10, 99, 0x7ffc_0000_1234, 0], ["say \"hi\"\n", null, null, null, null, null], null);
        var arguments = spec.ArgumentsOf(captured)!;
        Assert.Equal("say \"hi\"\n", arguments[0]);
        Assert.Null(arguments[1]);
        Assert.Equal(new UnreadableString(new Pointer(0x10)), arguments[2]);
        Assert.Null(arguments[3]);
        Assert.Equal(new Pointer(0x7ffc_0000_1234), arguments[4]);
        Assert.Null(spec.ReturnValueOf(captured));
        Assert.Equal("\"say \\\"hi\\\"\\n\", NULL, <unreadable 0x10>, _, 0x7ffc00001234", arguments.ToString());
    }

    [Fact]
    public void HasNoArgumentsWhenTheEntryWasNotSeen()
    {
        var spec = CaptureSpec.Parse("int -> int");
        var returnedOnly = new CapturedCall(null, null, 3);
        Assert.Null(spec.ArgumentsOf(returnedOnly));
        Assert.Equal(3, spec.ReturnValueOf(returnedOnly));
    }
}
