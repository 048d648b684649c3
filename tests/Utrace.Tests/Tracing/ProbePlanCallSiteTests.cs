using Utrace.Native.Bpf;
using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;

namespace Utrace.Tests.Tracing;

/// <summary>
/// The probes of library calls made through GOT slots (-fno-plt): on each call site, and on the instruction it returns
/// to but in EntryOnly mode; a tail call is reported at entry. gotcalls.c by gcc -O2 calls getpid, getppid, rand, qsort, fwrite (in check.cold),
/// fflush and exit each from one site, exit as main's last instruction, and puts by a tail call.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class ProbePlanCallSiteTests(ElfFixtures fixtures)
{
    private static readonly string[] Returning = ["fflush", "fwrite", "getpid", "getppid", "qsort", "rand"];
    private static readonly string[] AtEntry = ["exit", "puts"];

    private IReadOnlyList<FunctionInfo> LibraryCalls =>
        FunctionCatalog.ForExecutable(fixtures.PathOf("noplt/gcc-O2/gotcalls"), null).Own
            .Where(function => function.Kind == FunctionKind.LibraryCall && function.CallSites.Count > 0).ToArray();

    [Theory]
    [InlineData(ReturnMode.Uretprobe)]
    [InlineData(ReturnMode.RetInstruction)]
    public void EachCallSiteReturnsWhereTheCallEnds(ReturnMode mode)
    {
        var functions = LibraryCalls;

        var plan = ProbePlan.Build(functions, mode);

        var names = plan.Sites.Select(site => (site.Kind, functions[site.FunctionId].Name, (site.Cookie & Abi.CookieEntryOnly) != 0)).Order().ToArray();
        Assert.Equal(
            Returning.Select(name => (ProbeKind.CallSite, name, false))
                .Concat(Returning.Select(name => (ProbeKind.CallReturn, name, false)))
                .Concat(AtEntry.Select(name => (ProbeKind.CallSite, name, true)))
                .Order(),
            names);
        var rand = functions.Single(function => function.Name == "rand").CallSites.Single();
        Assert.Contains(plan.Sites, site => site.Kind == ProbeKind.CallReturn && site.Offset == rand.ReturnFileOffset);
        Assert.Contains(plan.Sites, site => site.Kind == ProbeKind.CallSite && site.Offset == rand.FileOffset);
    }

    [Fact]
    public void EntryOnlyProbesTheCallSitesAlone()
    {
        var functions = LibraryCalls;

        var plan = ProbePlan.Build(functions, ReturnMode.EntryOnly);

        Assert.Equal(
            Returning.Concat(AtEntry).Order().Select(name => (ProbeKind.CallSite, name, true)),
            plan.Sites.Select(site => (site.Kind, functions[site.FunctionId].Name, (site.Cookie & Abi.CookieEntryOnly) != 0)).OrderBy(site => site.Item2));
    }
}
