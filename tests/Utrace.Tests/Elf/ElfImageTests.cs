using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

[Collection(ElfFixturesCollection.Name)]
public sealed class ElfImageTests(ElfFixtures fixtures)
{
    public static IEnumerable<object[]> BinariesOfKnownSources() =>
        ElfFixtures.AllBinaries().Where(data => FixtureSources.Knows(Path.GetFileName((string)data[0])));

    [Theory]
    [MemberData(nameof(BinariesOfKnownSources))]
    public void FunctionsAreThoseTheSourceDefines(string binary)
    {
        var path = fixtures.PathOf(binary);
        var nmNames = Binutils.NmDemangledCodeNames(path);

        var image = ElfImage.Open(path);

        Assert.True(image.HasSymtab);
        Assert.Equal(FixtureSources.FunctionsIn(Path.GetFileName(binary), nmNames).Order(), image.Functions.Select(f => f.Name).Order());
        var startup = StartupFunctions;
        Assert.DoesNotContain(image.Functions, f => startup.Contains(f.Name));
        Assert.NotEmpty(image.Functions);
        Assert.All(image.Functions, f => Assert.Equal(FunctionKind.Function, f.Kind));
        // One entry per address, at the address nm gives that symbol.
        Assert.Equal(image.Functions.Count, image.Functions.Select(f => f.Address).Distinct().Count());
        var nmSymbols = Binutils.NmCode(path).Select(symbol => (symbol.Address, symbol.Name)).ToHashSet();
        Assert.All(image.Functions, f => Assert.Contains((f.Address, f.RawName), nmSymbols));
    }

    [Fact]
    public void StartUpCodeIsNotAFunctionToTrace()
    {
        // The empty program's code besides main all comes from the C runtime's start files.
        Assert.Contains("_start", StartupFunctions);

        var image = ElfImage.Open(fixtures.Empty);

        Assert.Equal(["main"], image.Functions.Select(f => f.Name));
    }

    [Theory]
    [MemberData(nameof(ElfFixtures.AllBinaries), MemberType = typeof(ElfFixtures))]
    public void FileOffsetsAndSizesMatchReadelf(string binary)
    {
        var path = fixtures.PathOf(binary);

        var image = ElfImage.Open(path);

        AssertMatchesReadelf(path, ".symtab", image.Functions);
    }

    [Theory]
    [MemberData(nameof(ElfFixtures.AllBinaries), MemberType = typeof(ElfFixtures))]
    public void HeaderFactsMatchReadelf(string binary)
    {
        var path = fixtures.PathOf(binary);

        var image = ElfImage.Open(path);

        Assert.Equal(!binary.Contains("-nopie/", StringComparison.Ordinal), image.IsPie);
        Assert.False(image.IsSharedLibrary);
        Assert.Null(image.SoName);
        Assert.Equal(Path.GetFileName(binary), image.FileName);
        Assert.Equal(path, image.Path);
        Assert.Equal(Binutils.ReadelfNeeded(path), image.Needed);
    }

    [Fact]
    public void StrippedExecutableTakesItsFunctionsFromDynsym()
    {
        var path = fixtures.StrippedNonPie;
        Assert.DoesNotContain(Binutils.ReadelfSections(path).Values, section => section.Name == ".symtab");

        var image = ElfImage.Open(path);

        Assert.False(image.HasSymtab);
        Assert.False(image.IsPie);
        // -rdynamic exports the global functions of libcalls.c (and the runtime's _start, which is not traced).
        Assert.Equal(FixtureSources.AlwaysIn("libcalls").Order(), image.Functions.Select(f => f.RawName).Order());
        var dynsym = Binutils.ReadelfSymbols(path, ".dynsym");
        Assert.NotEmpty(image.Functions);
        Assert.All(image.Functions, f => Assert.Equal(dynsym.Single(s => s.Name == f.RawName).Address, f.Address));
        AssertMatchesReadelf(path, ".dynsym", image.Functions);
    }

    [Fact]
    public void SharedLibraryExportsAreItsPublicFunctions()
    {
        var libc = LibraryResolver.ForExecutable(ElfImage.Open(fixtures.PathOf("gcc-O0-pie/libcalls")), null).LibraryPaths
            .Single(path => Path.GetFileName(path) == "libc.so.6");

        var image = ElfImage.Open(libc);

        Assert.True(image.IsSharedLibrary);
        Assert.False(image.IsPie);
        Assert.Equal("libc.so.6", image.SoName);
        Assert.Contains(image.Exports, f => f.RawName == "malloc");
        Assert.All(image.Exports, f => Assert.Equal(FunctionKind.Export, f.Kind));
        // An export is a defined, sized FUNC of .dynsym that other objects can bind to: global or weak, default visibility;
        // but not the profiling hooks of -pg builds, which only compiler-inserted calls and start-up code reach.
        string[] profilingHooks = ["__monstartup", "monstartup", "_mcleanup", "mcount", "_mcount", "__fentry__"];
        var dynsym = Binutils.ReadelfSymbols(libc, ".dynsym");
        var exported = dynsym.Where(s => s.Type == "FUNC" && s.SectionIndex is not ("UND" or "ABS") && s.Size > 0 && s.BindingRank < 2 && s.Visibility == "DEFAULT")
            .Where(s => !profilingHooks.Contains(s.Name))
            .ToLookup(s => s.Address);
        Assert.Equal(exported.Select(aliases => aliases.Key).Order(), image.Exports.Select(f => f.Address));
        Assert.All(image.Exports, f => Assert.Contains(f.RawName, exported[f.Address].Select(s => s.Name)));
        // Where aliases are equally public, the plain name wins over the internal one, when this libc has both.
        foreach (var (name, alias) in new[] { ("malloc", "__libc_malloc"), ("fopen", "_IO_fopen") })
        {
            var symbol = dynsym.Single(s => s.Name == name);
            if (dynsym.Any(s => s.Name == alias && s.Address == symbol.Address && s.BindingRank == symbol.BindingRank))
                Assert.Equal(name, image.Exports.Single(f => f.Address == symbol.Address).RawName);
        }
        // strlen is an IFUNC: its address is the resolver's, which is no place to probe.
        var strlen = dynsym.Single(s => s.Name == "strlen");
        Assert.Equal("IFUNC", strlen.Type);
        Assert.DoesNotContain(image.Exports, f => f.Address == strlen.Address);
        AssertMatchesReadelf(libc, ".dynsym", image.Exports);
    }

    [Fact]
    public void UntypedCodeIsTheRoutinesHandWrittenAssemblyLeavesWithoutAType()
    {
        var directory = Directory.CreateTempSubdirectory("utrace-elf-");
        try
        {
            // switch_to has no .type, as hand-written stack switches often have not (libruby's coroutine_transfer).
            var source = Path.Combine(directory.FullName, "routines.S");
            File.WriteAllText(source, """
                .text
                .globl typed
                .type typed, @function
                typed: nop
                ret
                .size typed, 2
                .globl switch_to
                switch_to: int3
                ret
                """);
            var library = Path.Combine(directory.FullName, "libroutines.so");
            Tool.Run("gcc", "-shared", "-nostdlib", "-o", library, source);

            var image = ElfImage.Open(library);

            Assert.Equal(["switch_to"], image.UntypedCode.Select(f => f.RawName));
            Assert.Equal(["typed"], image.Exports.Select(f => f.RawName));
            // Its file offset is where its first instruction is: int3 (0xcc), then ret.
            var bytes = File.ReadAllBytes(library);
            Assert.Equal([0xcc, 0xc3], bytes.AsSpan((int)image.UntypedCode[0].FileOffset, 2).ToArray());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void FileNameIsThatOfTheRealFile()
    {
        var directory = Directory.CreateTempSubdirectory("utrace-elf-");
        try
        {
            var link = Path.Combine(directory.FullName, "alias");
            File.CreateSymbolicLink(link, fixtures.PathOf("gcc-O0-pie/fib"));

            var image = ElfImage.Open(link);

            Assert.Equal(link, image.Path);
            Assert.Equal("fib", image.FileName);
            Assert.Equal(fixtures.PathOf("gcc-O0-pie/fib"), image.RealPath);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void TextFileIsNotAnElfImage()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "#!/bin/sh\necho this is not ELF\n");

            var error = Assert.Throws<ElfFormatException>(() => ElfImage.Open(path));

            Assert.Contains(path, error.Message, StringComparison.Ordinal);
            Assert.Equal(path, error.FilePath);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFileAndObjectFileAreNotElfImages()
    {
        var missing = Path.Combine(fixtures.OutDir, "no-such-file");

        Assert.Contains(missing, Assert.Throws<ElfFormatException>(() => ElfImage.Open(missing)).Message, StringComparison.Ordinal);
        Assert.Contains("Relocatable", Assert.Throws<ElfFormatException>(() => ElfImage.Open(fixtures.ObjectFile)).Message, StringComparison.Ordinal);
    }

    /// <summary>The code the C runtime's start files add to every program: the empty program's, less main.</summary>
    private HashSet<string> StartupFunctions => [.. Binutils.NmDemangledCodeNames(fixtures.Empty).Where(name => name != "main")];

    /// <summary>Each function's file offset is its readelf value mapped through its readelf section header, and its size is readelf's.</summary>
    private static void AssertMatchesReadelf(string path, string table, IEnumerable<ElfFunction> functions)
    {
        var sections = Binutils.ReadelfSections(path);
        var symbols = Binutils.ReadelfSymbols(path, table).ToLookup(symbol => (symbol.Address, symbol.Name));
        Assert.NotEmpty(functions);
        Assert.All(functions, function =>
        {
            var symbol = symbols[(function.Address, function.RawName)].First();
            var section = sections[int.Parse(symbol.SectionIndex, System.Globalization.CultureInfo.InvariantCulture)];
            Assert.Equal(symbol.Address - section.Address + section.Offset, function.FileOffset);
            Assert.Equal(symbol.Size, function.Size);
        });
    }
}
