using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

/// <summary>
/// The call sites of imports through their GOT slots (-fno-plt code): on hand-assembled bytes with exact expected
/// sites, and on the fixtures built with -fno-plt against objdump's disassembly.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class GotCallReaderTests(ElfFixtures fixtures)
{
    private const ulong Start = 0x1000;
    private const ulong FileOffset = 0x1000;
    private const ulong RandSlot = 0x3fe0;
    private const ulong PutsSlot = 0x3f98;

    private static readonly Dictionary<ulong, string> Imports = new() { [RandSlot] = "rand", [PutsSlot] = "puts" };

    /// <summary>The bytes of "call *slot(%rip)" (ff 15) or "jmp *slot(%rip)" (ff 25) at <paramref name="address"/>.</summary>
    private static byte[] ThroughSlot(byte opcode, ulong address, ulong slot) =>
        [0xff, opcode, .. BitConverter.GetBytes((int)(slot - (address + 6)))];

    /// <summary>"mov slot(%rip), %r15" (4c 8b 3d) at <paramref name="address"/>.</summary>
    private static byte[] LoadR15(ulong address, ulong slot) =>
        [0x4c, 0x8b, 0x3d, .. BitConverter.GetBytes((int)(slot - (address + 7)))];

    private static readonly byte[] CallR15 = [0x41, 0xff, 0xd7];
    private static readonly byte[] Ret = [0xc3];

    [Fact]
    public void ACallReturnsToTheNextInstruction()
    {
        byte[] code = [.. ThroughSlot(0x15, Start, RandSlot), .. Ret];

        var sites = GotCallReader.InFunction(code, Start, FileOffset, Imports);

        Assert.Equal([new GotCallSite("rand", Start, FileOffset, Start + 6)], sites);
        Assert.Equal(FileOffset + 6, sites[0].ReturnFileOffset);
    }

    [Fact]
    public void BackToBackCallsAreTwoSites()
    {
        byte[] code = [.. ThroughSlot(0x15, Start, RandSlot), .. ThroughSlot(0x15, Start + 6, PutsSlot), .. Ret];

        var sites = GotCallReader.InFunction(code, Start, FileOffset, Imports);

        Assert.Equal([new GotCallSite("rand", Start, FileOffset, Start + 6), new GotCallSite("puts", Start + 6, FileOffset + 6, Start + 12)], sites);
    }

    [Fact]
    public void ATailCallAndACallThatEndsTheFunctionHaveNoReturn()
    {
        byte[] code = [.. ThroughSlot(0x25, Start, PutsSlot), .. ThroughSlot(0x15, Start + 6, RandSlot)];

        var sites = GotCallReader.InFunction(code, Start, FileOffset, Imports);

        Assert.Equal([new GotCallSite("puts", Start, FileOffset, null), new GotCallSite("rand", Start + 6, FileOffset + 6, null)], sites);
        Assert.Null(sites[0].ReturnFileOffset);
    }

    [Fact]
    public void ARegisterLoadedOnceFromTheSlotIsFollowed()
    {
        byte[] code = [.. LoadR15(Start, RandSlot), .. CallR15, .. CallR15, 0x41, 0x5f /* pop %r15 */, .. Ret];

        var sites = GotCallReader.InFunction(code, Start, FileOffset, Imports);

        Assert.Equal([new GotCallSite("rand", Start + 7, FileOffset + 7, Start + 10), new GotCallSite("rand", Start + 10, FileOffset + 10, Start + 13)], sites);
    }

    [Fact]
    public void ARegisterWrittenAgainIsNotFollowed()
    {
        // xor %r15d,%r15d writes r15 too: which value a call sees depends on the path taken.
        byte[] code = [.. LoadR15(Start, RandSlot), .. CallR15, 0x45, 0x31, 0xff, .. CallR15, .. Ret];

        Assert.Empty(GotCallReader.InFunction(code, Start, FileOffset, Imports));
    }

    [Fact]
    public void ASlotThatNamesNoFunctionIsNoSite()
    {
        byte[] code = [.. ThroughSlot(0x15, Start, 0x3ff0), .. Ret];

        Assert.Empty(GotCallReader.InFunction(code, Start, FileOffset, Imports));
    }

    [Fact]
    public void CodeThatDoesNotDecodeToItsEndHasNoSites()
    {
        // A function cut in the middle of an instruction: no probe may be placed by guessing.
        byte[] code = [.. ThroughSlot(0x15, Start, RandSlot), 0xff, 0x15];

        Assert.Empty(GotCallReader.InFunction(code, Start, FileOffset, Imports));
    }

    public static TheoryData<string> NoPltBuilds => new()
    {
        "noplt/gcc-O0/gotcalls", "noplt/gcc-O2/gotcalls", "noplt/clang-O0/gotcalls", "noplt/clang-O2/gotcalls",
        "noplt/gcc-O0/demo", "noplt/gcc-O2/demo", "noplt/clang-O0/demo", "noplt/clang-O2/demo",
    };

    [Theory]
    [MemberData(nameof(NoPltBuilds))]
    public void SitesThroughSlotsAreObjdumpsCallsAndJumpsThroughTheGot(string binary)
    {
        var path = fixtures.PathOf(binary);
        var image = ElfImage.Open(path);
        var throughRegisters = RegisterSites(binary);

        var sites = image.LibraryCalls.SelectMany(call => call.CallSites).Where(site => !throughRegisters.Contains(site.Address)).OrderBy(site => site.Address);

        // __libc_start_main is called by _start, the C runtime's start-up code, which is not traced.
        var expected = Binutils.ObjdumpGotCalls(path).Where(call => call.Import != "__libc_start_main");
        Assert.Equal(expected.Select(call => (call.Address, call.Import)), sites.Select(site => (site.Address, site.Import)));
        // A tail call has no return to probe, nor has exit, the last instruction of main.
        Assert.Equal(expected.Where(call => !call.IsCall || call.Import == "exit").Select(call => call.Address),
            sites.Where(site => site.ReturnAddress is null).Select(site => site.Address));
    }

    [Theory]
    [InlineData("noplt/clang-O2/gotcalls", "rand", 10)]
    [InlineData("noplt/gcc-O2/gotcalls", "rand", 1)]
    [InlineData("noplt/clang-O2/demo", "rand", 1)]
    public void ALoopOfCallsThroughARegisterIsFound(string binary, string import, int sites)
    {
        var image = ElfImage.Open(fixtures.PathOf(binary));

        Assert.Equal(sites, image.LibraryCalls.Single(call => call.RawName == import).CallSites.Count);
    }

    [Fact]
    public void ABuildWithStubsHasNoCallSites()
    {
        var image = ElfImage.Open(fixtures.PathOf("noplt/gcc-O2/gotcalls-plt"));

        Assert.Equal(image.PltStubs, image.LibraryCalls);
        Assert.All(image.LibraryCalls, call => Assert.Empty(call.CallSites));
    }

    [Fact]
    public void AnImportWithoutAStubIsALibraryCallAtItsFirstSite()
    {
        var image = ElfImage.Open(fixtures.PathOf("noplt/gcc-O2/gotcalls"));

        var rand = image.LibraryCalls.Single(call => call.RawName == "rand");

        Assert.True(rand.CalledOnlyThroughGot);
        Assert.Equal((FunctionKind.LibraryCall, rand.CallSites[0].Address, rand.CallSites[0].FileOffset, 0UL), (rand.Kind, rand.Address, rand.FileOffset, rand.Size));
        // The stub of __cxa_finalize comes with the C runtime's start files, built with a PLT.
        Assert.False(image.LibraryCalls.Single(call => call.RawName == "__cxa_finalize").CalledOnlyThroughGot);
    }

    /// <summary>The call sites through a register in <paramref name="binary"/>, which objdump does not label: `call *%reg`.</summary>
    private IReadOnlySet<ulong> RegisterSites(string binary) =>
        Tool.Run("objdump", "-d", "--section=.text", "--no-show-raw-insn", fixtures.PathOf(binary))
            .Split('\n')
            .Where(line => line.Contains("call   *%r", StringComparison.Ordinal))
            .Select(line => Convert.ToUInt64(line.Split(':')[0].Trim(), 16))
            .ToHashSet();
}
