using Utrace.Native.Elf;
using Utrace.Tests.Elf;
using Xunit;

namespace Utrace.Tests.Capture;

[Collection(ElfFixturesCollection.Name)]
public sealed class AutomaticCaptureTests(ElfFixtures fixtures)
{
    /// <summary>What params.c declares, as -Capture auto reads it: the double takes no register, what follows a struct is not read.</summary>
    private static readonly Dictionary<string, string?> ParamsSpecs = new()
    {
        ["mix"] = "int, uint, long, ulong, char, string -> long",
        ["scaled"] = "<double>, int, string -> int",
        ["by_value"] = "<struct>, <int> -> long",
        ["keep"] = "ptr, ulong, bool -> ptr",
        ["narrow"] = "short, ushort, char -> char",
        ["nothing"] = null,
        ["main"] = "-> int",
    };

    public static IEnumerable<object[]> ParamsBuilds() => ElfFixtures.DebugBinaries("params");

    [Theory]
    [MemberData(nameof(ParamsBuilds))]
    public void ReadsEachParameterAsTheAbiPassesIt(string binary)
    {
        var path = fixtures.PathOf(binary);
        var debugInfo = new DebugInfo(path);
        var functions = ElfImage.Open(path).Functions;

        var specs = functions.ToDictionary(f => f.Name, f => debugInfo.PrototypeAt(f.Address) is { } prototype
            ? AutomaticCapture.FromPrototype(prototype)?.ToString()
            : "no prototype");

        Assert.Equal(ParamsSpecs.OrderBy(entry => entry.Key), specs.OrderBy(entry => entry.Key));
    }

    public static IEnumerable<object[]> CxxBuilds() => ElfFixtures.DebugBinaries("cxx");

    [Theory]
    [MemberData(nameof(CxxBuilds))]
    public void ReadsAMemberFunctionsThisAndATemplatesParameters(string binary)
    {
        var path = fixtures.PathOf(binary);
        var debugInfo = new DebugInfo(path);
        var functions = ElfImage.Open(path).Functions.ToDictionary(f => f.Name);

        // area() returns a double, which no general-purpose register holds: only `this` is read.
        Assert.Equal("ptr", AutomaticCapture.FromPrototype(debugInfo.PrototypeAt(functions["geo::Shape::area() const"].Address)!)?.ToString());
        Assert.Equal("int -> int", AutomaticCapture.FromPrototype(debugInfo.PrototypeAt(functions["int twice<int>(int)"].Address)!)?.ToString());
    }

    [Fact]
    public void EveryLibcPrototypeIsAValidSpec()
    {
        Assert.All(LibcPrototypes.Names, name => Assert.NotNull(LibcPrototypes.Of(name)));
        Assert.Equal("string, int -> int", LibcPrototypes.Of("open")?.ToString());
        Assert.Equal("int, ptr, ulong -> long", LibcPrototypes.Of("read")?.ToString());
        Assert.Equal("string -> ulong", LibcPrototypes.Of("strlen")?.ToString());
        Assert.Equal("ulong -> ptr", LibcPrototypes.Of("malloc")?.ToString());
        Assert.Null(LibcPrototypes.Of("fib"));
    }
}
