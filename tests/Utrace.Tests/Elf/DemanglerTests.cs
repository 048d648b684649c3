using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

[Collection(ElfFixturesCollection.Name)]
public sealed class DemanglerTests(ElfFixtures fixtures)
{
    [Theory]
    [MemberData(nameof(ElfFixtures.Variants), "cxx", MemberType = typeof(ElfFixtures))]
    public void CxxFunctionsHaveDemangledNames(string binary)
    {
        var functions = ElfImage.Open(fixtures.PathOf(binary)).Functions;

        Assert.Equal("_ZNK3geo5Shape4areaEv", Assert.Single(functions, f => f.Name == "geo::Shape::area() const").RawName);
        Assert.Equal("_Z5twiceIiET_S0_", Assert.Single(functions, f => f.Name == "int twice<int>(int)").RawName);
        Assert.Equal("main", Assert.Single(functions, f => f.RawName == "main").Name);
    }

    [Theory]
    [InlineData("puts", "puts")]
    [InlineData("_ZN3geo5Shape4areaEv", "geo::Shape::area()")]
    [InlineData("_Z3fibi.cold", "fib(int) [clone .cold]")]
    [InlineData("_ZSt4cout", "std::cout")]
    [InlineData("_Z", "_Z")]
    [InlineData("_Znot-mangled", "_Znot-mangled")]
    [InlineData("", "")]
    public void DemanglesMangledNamesOnly(string rawName, string expected)
    {
        Assert.Equal(expected, Demangler.Demangle(rawName));
    }
}
