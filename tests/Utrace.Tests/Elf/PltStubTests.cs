using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

[Collection(ElfFixturesCollection.Name)]
public sealed class PltStubTests(ElfFixtures fixtures)
{
    [Theory]
    [MemberData(nameof(ElfFixtures.AllBinaries), MemberType = typeof(ElfFixtures))]
    public void StubsAreWhatObjdumpLabelsAtPlt(string binary)
    {
        var path = fixtures.PathOf(binary);

        var image = ElfImage.Open(path);

        AssertMatchesObjdump(path, image);
    }

    [Theory]
    [MemberData(nameof(ElfFixtures.Variants), "libcalls", MemberType = typeof(ElfFixtures))]
    public void LibcallsCallsItsImportsThroughStubs(string binary)
    {
        var names = ElfImage.Open(fixtures.PathOf(binary)).PltStubs.Select(stub => stub.RawName);

        Assert.Superset(new HashSet<string> { "puts", "malloc", "usleep", "free" }, names.ToHashSet());
    }

    [Theory]
    [MemberData(nameof(ElfFixtures.Variants), "fib", MemberType = typeof(ElfFixtures))]
    public void FibCallsPrintfThroughAStub(string binary)
    {
        Assert.Contains("printf", ElfImage.Open(fixtures.PathOf(binary)).PltStubs.Select(stub => stub.RawName));
    }

    [Theory]
    [InlineData("gcc-O2-cet-pie/libcalls")]
    [InlineData("gcc-O2-cet-nopie/libcalls")]
    public void WithIbtTheStubsAreInPltSec(string binary)
    {
        var path = fixtures.PathOf(binary);
        var sections = Binutils.ReadelfSections(path).Values;
        var pltSec = Assert.Single(sections, section => section.Name == ".plt.sec");

        var image = ElfImage.Open(path);

        var inPltSec = image.PltStubs.Where(stub => stub.RawName != "__cxa_finalize").ToArray();
        Assert.Equal(["free", "malloc", "puts", "usleep"], inPltSec.Select(stub => stub.RawName).Order());
        Assert.All(inPltSec, stub => Assert.InRange(stub.Address, pltSec.Address, pltSec.Address + pltSec.Size - pltSec.EntrySize));
    }

    [Fact]
    public void StrippedPieHasTheStubsObjdumpFinds()
    {
        var path = fixtures.StrippedPie;
        Assert.DoesNotContain(Binutils.ReadelfSections(path).Values, section => section.Name == ".symtab");

        var image = ElfImage.Open(path);

        Assert.True(image.IsPie);
        Assert.False(image.HasSymtab);
        Assert.Empty(image.Functions);
        Assert.Superset(new HashSet<string> { "puts", "malloc", "usleep", "free" }, image.PltStubs.Select(stub => stub.RawName).ToHashSet());
        AssertMatchesObjdump(path, image);
    }

    /// <summary>Same names at the same addresses as objdump's name@plt labels; offsets and sizes from the stub's section.</summary>
    private static void AssertMatchesObjdump(string path, ElfImage image)
    {
        Assert.Equal(Binutils.ObjdumpPltStubs(path), image.PltStubs.Select(stub => (stub.Address, stub.RawName)));
        var stubSections = Binutils.ReadelfSections(path).Values.Where(section => section.Name.StartsWith(".plt", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(image.PltStubs);
        Assert.All(image.PltStubs, stub =>
        {
            var section = Assert.Single(stubSections, s => stub.Address >= s.Address && stub.Address < s.Address + s.Size);
            Assert.Equal(stub.Address - section.Address + section.Offset, stub.FileOffset);
            Assert.Equal(section.EntrySize, stub.Size);
            Assert.Equal(FunctionKind.LibraryCall, stub.Kind);
        });
    }
}
