using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

[Collection(ElfFixturesCollection.Name)]
public sealed class DebugInfoTests(ElfFixtures fixtures)
{
    public static IEnumerable<object[]> DebugBinaries() => ElfFixtures.DebugBinaries();

    [Theory]
    [MemberData(nameof(DebugBinaries))]
    public void SourceLinesAreAddr2LinesAnswers(string binary)
    {
        var path = fixtures.PathOf(binary);
        var image = ElfImage.Open(path);
        var functions = image.Functions.Concat(image.LibraryCalls).ToArray();
        var expected = Addr2Line(path, functions.Select(f => f.Address));

        var debugInfo = new DebugInfo(path);

        Assert.True(debugInfo.Exists);
        Assert.Equal(expected, functions.Select(f => debugInfo.SourceAt(f.Address)?.ToString() ?? "??:0").ToArray());
        // Every function of the program's own has a line; no PLT stub has one.
        Assert.All(image.Functions, f => Assert.NotNull(debugInfo.SourceAt(f.Address)));
        Assert.All(image.LibraryCalls, f => Assert.Null(debugInfo.SourceAt(f.Address)));
    }

    [Theory]
    [InlineData("gcc-O0")]
    [InlineData("gcc-O2")]
    [InlineData("clang-O0")]
    [InlineData("clang-O2")]
    public void KnowsEachFixtureFunctionsFileAndLine(string variant)
    {
        var path = fixtures.PathOf($"debug/{variant}/fib");
        var fib = ElfImage.Open(path).Functions.Single(f => f.Name == "fib");

        var source = new DebugInfo(path).SourceAt(fib.Address);

        Assert.Equal(new SourceLocation(Path.Combine(RepoPaths.Root, "tests", "fixtures", "fib.c"), 7), source);
    }

    [Theory]
    [InlineData("gcc", "-gdwarf-4")]
    [InlineData("clang", "-gdwarf-4")]
    [InlineData("gcc", "-gdwarf-5")]
    public void ReadsDwarf4AsWellAs5(string compiler, string version)
    {
        var directory = Directory.CreateTempSubdirectory("utrace-dwarf").FullName;
        var program = Path.Combine(directory, "params");
        Tool.Run(compiler, version, "-O1", "-o", program, Path.Combine(RepoPaths.Root, "tests", "fixtures", "params.c"));
        var functions = ElfImage.Open(program).Functions;

        var debugInfo = new DebugInfo(program);

        Assert.Equal(Addr2Line(program, functions.Select(f => f.Address)), functions.Select(f => debugInfo.SourceAt(f.Address)?.ToString() ?? "??:0").ToArray());
        Assert.Equal("<double>, int, string -> int",
            AutomaticCapture.FromPrototype(debugInfo.PrototypeAt(functions.Single(f => f.Name == "scaled").Address)!)?.ToString());
    }

    [Fact]
    public void ReadsACompressedSeparateDebugFileNamedByGnuDebuglink()
    {
        // As distributions ship debug info: the program stripped, its DWARF zlib-compressed in a file of its own beside it.
        var directory = Directory.CreateTempSubdirectory("utrace-debuglink").FullName;
        var program = Path.Combine(directory, "chain");
        File.Copy(fixtures.PathOf("debug/gcc-O2/chain"), program);
        Tool.Run("objcopy", "--only-keep-debug", "--compress-debug-sections=zlib", program, program + ".debug");
        Tool.Run("strip", "-g", program);
        Tool.Run("objcopy", $"--add-gnu-debuglink={program}.debug", program);
        var functions = ElfImage.Open(program).Functions;

        var debugInfo = new DebugInfo(program);

        Assert.Equal(Addr2Line(program, functions.Select(f => f.Address)), functions.Select(f => debugInfo.SourceAt(f.Address)?.ToString() ?? "??:0").ToArray());
        Assert.Equal(new SourceLocation(Path.Combine(RepoPaths.Root, "tests", "fixtures", "chain.c"), 9), debugInfo.SourceAt(functions.Single(f => f.Name == "a").Address));
    }

    [Fact]
    public void AProgramWithoutDebugInfoHasNone()
    {
        var path = fixtures.PathOf("gcc-O2-pie/fib");
        var fib = ElfImage.Open(path).Functions.Single(f => f.Name == "fib");

        var debugInfo = new DebugInfo(path);

        Assert.False(debugInfo.Exists);
        Assert.Null(debugInfo.SourceAt(fib.Address));
        Assert.Null(debugInfo.PrototypeAt(fib.Address));
    }

    /// <summary>addr2line's "file:line" for each address ("??:0" where it knows none), its " (discriminator n)" left out.</summary>
    private static string[] Addr2Line(string path, IEnumerable<ulong> addresses) =>
        Tool.Run("addr2line", ["-e", path, .. addresses.Select(address => $"0x{address:x}")])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(" (discriminator", 2)[0])
            .Select(line => line is "??:?" ? "??:0" : line)
            .ToArray();
}
