using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

[Collection(ElfFixturesCollection.Name)]
public sealed class ElfImageTests(ElfFixtures fixtures)
{
    private const string StrippedNonPie = "/usr/bin/python3.11";

    [Theory]
    [MemberData(nameof(ElfFixtures.AllBinaries), MemberType = typeof(ElfFixtures))]
    public void FunctionsAreWhatNmListsAsCode(string binary)
    {
        var path = fixtures.PathOf(binary);

        var image = ElfImage.Open(path);

        Assert.True(image.HasSymtab);
        Assert.Equal(Expected.Functions(Binutils.NmCode(path)), image.Functions.Select(f => (f.Address, f.RawName)));
        Assert.All(image.Functions, f => Assert.Equal(FunctionKind.Function, f.Kind));
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
        Assert.Empty(image.RunPaths);
    }

    [Fact]
    public void StrippedExecutableTakesItsFunctionsFromDynsym()
    {
        var image = ElfImage.Open(StrippedNonPie);

        Assert.False(image.HasSymtab);
        Assert.False(image.IsPie);
        var expected = Expected.Functions(Expected.DefinedFunctions(Binutils.ReadelfSymbols(StrippedNonPie, ".dynsym")));
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Count, image.Functions.Count);
        Assert.Equal(expected, image.Functions.Select(f => (f.Address, f.RawName)));
        AssertMatchesReadelf(StrippedNonPie, ".dynsym", image.Functions);
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
        var dynsym = Binutils.ReadelfSymbols(libc, ".dynsym");
        var exported = Expected.DefinedFunctions(dynsym).Where(s => s.BindingRank < 2 && s.Visibility == "DEFAULT");
        Assert.Equal(Expected.Functions(exported), image.Exports.Select(f => (f.Address, f.RawName)));
        Assert.All(image.Exports, f => Assert.Equal(FunctionKind.Export, f.Kind));
        // strlen is an IFUNC: its address is the resolver's, which is no place to probe.
        var strlen = dynsym.Single(s => s.Name == "strlen");
        Assert.Equal("IFUNC", strlen.Type);
        Assert.DoesNotContain(image.Exports, f => f.Address == strlen.Address);
        AssertMatchesReadelf(libc, ".dynsym", image.Exports);
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

    /// <summary>Each function's file offset is its readelf value mapped through its readelf section header, and its size is readelf's.</summary>
    private static void AssertMatchesReadelf(string path, string table, IEnumerable<ElfFunction> functions)
    {
        var sections = Binutils.ReadelfSections(path);
        var symbols = Binutils.ReadelfSymbols(path, table).ToLookup(symbol => (symbol.Address, symbol.Name));
        Assert.All(functions, function =>
        {
            var symbol = symbols[(function.Address, function.RawName)].First();
            var section = sections[int.Parse(symbol.SectionIndex, System.Globalization.CultureInfo.InvariantCulture)];
            Assert.Equal(symbol.Address - section.Address + section.Offset, function.FileOffset);
            Assert.Equal(symbol.Size, function.Size);
        });
    }
}
