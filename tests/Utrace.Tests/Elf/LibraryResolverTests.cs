using System.Collections.Concurrent;
using System.Diagnostics;
using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

[Collection(ElfFixturesCollection.Name)]
public sealed class LibraryResolverTests(ElfFixtures fixtures)
{
    [Theory]
    [InlineData("gcc-O0-pie/libcalls")]
    [InlineData("clang-O2-nopie/libcalls")]
    [InlineData("gcc-O2-cet-pie/libcalls")]
    public void LibcProvidesTheLibcallsImports(string binary)
    {
        var executable = ElfImage.Open(fixtures.PathOf(binary));
        var resolver = LibraryResolver.ForExecutable(executable, ldLibraryPath: null);

        resolver.AssignProviders(executable);

        Assert.Equal("libc.so.6", Path.GetFileName(resolver.LibraryPaths[0]));
        var providers = executable.PltStubs.ToDictionary(stub => stub.RawName, stub => stub.Library);
        Assert.All(new[] { "puts", "malloc", "usleep", "free" }, name => Assert.Equal("libc.so.6", providers[name]));
        Assert.Null(resolver.FindProvider("utrace_no_such_function"));
        // A data symbol of libc provides no function.
        Assert.Null(resolver.FindProvider("stdout"));
    }

    [Theory]
    [MemberData(nameof(ElfFixtures.AllBinaries), MemberType = typeof(ElfFixtures))]
    public void EachStubIsProvidedByTheFirstLibraryInLddOrderThatDefinesIt(string binary)
    {
        var path = fixtures.PathOf(binary);
        var executable = ElfImage.Open(path);

        LibraryResolver.ForExecutable(executable, ldLibraryPath: null).AssignProviders(executable);

        var libraries = Binutils.Ldd(path).Select(library => Definitions.GetOrAdd(library, DefinedFunctions)).ToArray();
        Assert.Equal(
            executable.PltStubs.Select(stub => (stub.RawName, (string?)libraries.FirstOrDefault(library => library.Functions.Contains(stub.RawName)).SoName)),
            executable.PltStubs.Select(stub => (stub.RawName, stub.Library)));
    }

    [Fact]
    public void LibstdcxxProvidesTheCxxRuntime()
    {
        var executable = ElfImage.Open(fixtures.Thrower);
        var resolver = LibraryResolver.ForExecutable(executable, ldLibraryPath: null);

        resolver.AssignProviders(executable);

        Assert.Equal(
            ["__cxa_allocate_exception", "__cxa_throw"],
            executable.PltStubs.Where(stub => stub.Library == "libstdc++.so.6").Select(stub => stub.RawName).Order());
        Assert.Equal("libstdc++.so.6", resolver.FindProvider("_Znwm")); // operator new(unsigned long)
        Assert.Equal("libstdc++.so.6", resolver.FindProvider("_ZSt9terminatev"));
        Assert.Equal("libc.so.6", resolver.FindProvider("malloc"));
    }

    public static TheoryData<string> LinkedPrograms => ["gcc-O2-pie/libcalls", "clang-O0-nopie/cxx", "extra/thrower", "extra/runpath-user"];

    [Theory]
    [MemberData(nameof(LinkedPrograms))]
    public void LibrariesAreFoundInLddsOrder(string binary)
    {
        var path = fixtures.PathOf(binary);

        var resolver = LibraryResolver.ForExecutable(ElfImage.Open(path), ldLibraryPath: null);

        // ldd names the dynamic loader by its PT_INTERP path; the others by the path ld.so found.
        var ldd = Binutils.Ldd(path);
        Assert.Equal(ldd.Select(Path.GetFileName), resolver.LibraryPaths.Select(Path.GetFileName));
        Assert.Equal(
            ldd.Where(library => !library.Contains("ld-linux", StringComparison.Ordinal)),
            resolver.LibraryPaths.Where(library => !library.Contains("ld-linux", StringComparison.Ordinal)));
    }

    private static readonly ConcurrentDictionary<string, (string SoName, HashSet<string> Functions)> Definitions = new();

    /// <summary>A library's DT_SONAME (else its file name) and the functions its .dynsym defines for others to bind to.</summary>
    private static (string SoName, HashSet<string> Functions) DefinedFunctions(string library) => (
        Binutils.ReadelfSoName(library) ?? Path.GetFileName(library),
        Binutils.ReadelfSymbols(library, ".dynsym")
            .Where(symbol => symbol.Type is "FUNC" or "IFUNC" && symbol.SectionIndex is not ("UND" or "ABS") && symbol.BindingRank < 2)
            .Select(symbol => symbol.Name)
            .ToHashSet());

    [Fact]
    public void RunPathComesAfterLdLibraryPath()
    {
        var executable = ElfImage.Open(fixtures.RunPathUser);
        var origin = Path.GetDirectoryName(fixtures.RunPathUser)!;

        Assert.Equal(Path.Combine(origin, "a", "libutfix.so.1"), LibraryResolver.ForExecutable(executable, null).LibraryPaths[0]);
        var resolver = LibraryResolver.ForExecutable(executable, Path.Combine(origin, "b"));
        Assert.Equal(Path.Combine(origin, "b", "libutfix.so.1"), resolver.LibraryPaths[0]);
        resolver.AssignProviders(executable);
        Assert.Equal("libutfix.so.1", executable.PltStubs.Single(stub => stub.RawName == "utfix_hello").Library);
    }

    [Fact]
    public void PreloadedLibrariesComeFirstAndProvideWhatTheyDefine()
    {
        var executable = ElfImage.Open(fixtures.PathOf("gcc-O2-pie/libcalls"));
        var directory = Directory.CreateTempSubdirectory("utrace-elf-");
        try
        {
            // A preload that defines puts, given by path, and one given by name, found through LD_LIBRARY_PATH.
            var putsSource = Path.Combine(directory.FullName, "myputs.c");
            File.WriteAllText(putsSource, "int puts(const char *s) { (void)s; return 0; }\n");
            var myPuts = Path.Combine(directory.FullName, "libmyputs.so");
            Tool.Run("gcc", "-shared", "-fPIC", "-o", myPuts, putsSource);
            var utfix = Path.GetDirectoryName(fixtures.RunPathUser)!;

            var resolver = LibraryResolver.ForExecutable(executable, Path.Combine(utfix, "a"), $"{myPuts} libutfix.so.1");
            resolver.AssignProviders(executable);

            Assert.Equal([myPuts, Path.Combine(utfix, "a", "libutfix.so.1")], resolver.LibraryPaths.Take(2));
            Assert.Equal("libc.so.6", Path.GetFileName(resolver.LibraryPaths[2]));
            Assert.Equal("libmyputs.so", executable.PltStubs.Single(stub => stub.RawName == "puts").Library);
            Assert.Equal("libc.so.6", executable.PltStubs.Single(stub => stub.RawName == "malloc").Library);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void AGlibcHwcapsSubdirectoryIsPreferredAsTheLinkerPrefersIt()
    {
        var origin = Path.GetDirectoryName(fixtures.RunPathUser)!;
        var directory = Directory.CreateTempSubdirectory("utrace-elf-");
        try
        {
            // runpath-user finds libutfix.so.1 through its RUNPATH, $ORIGIN/a; a CPU of level x86-64-v2
            // (any this suite runs on) makes ld.so take the copy in a/glibc-hwcaps/x86-64-v2 first.
            var program = Path.Combine(directory.FullName, "runpath-user");
            var subdirectory = Directory.CreateDirectory(Path.Combine(directory.FullName, "a", "glibc-hwcaps", "x86-64-v2")).FullName;
            File.Copy(fixtures.RunPathUser, program);
            File.Copy(Path.Combine(origin, "a", "libutfix.so.1"), Path.Combine(directory.FullName, "a", "libutfix.so.1"));
            File.Copy(Path.Combine(origin, "a", "libutfix.so.1"), Path.Combine(subdirectory, "libutfix.so.1"));

            var resolver = LibraryResolver.ForExecutable(ElfImage.Open(program), ldLibraryPath: null);

            Assert.Equal(Path.Combine(subdirectory, "libutfix.so.1"), resolver.LibraryPaths[0]);
            Assert.Equal(Binutils.Ldd(program), resolver.LibraryPaths);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void RPathComesBeforeLdLibraryPath()
    {
        var executable = ElfImage.Open(fixtures.RPathUser);
        var origin = Path.GetDirectoryName(fixtures.RPathUser)!;

        Assert.Equal(Path.Combine(origin, "a", "libutfix.so.1"), LibraryResolver.ForExecutable(executable, Path.Combine(origin, "b")).LibraryPaths[0]);
    }

    [Fact]
    public void LdLibraryPathComesFirstWithoutRPath()
    {
        var executable = ElfImage.Open(fixtures.PathOf("gcc-O2-pie/libcalls"));
        var directory = Directory.CreateTempSubdirectory("utrace-elf-");
        try
        {
            var systemLibc = LibraryResolver.ForExecutable(executable, null).LibraryPaths[0];
            File.Copy(systemLibc, Path.Combine(directory.FullName, "libc.so.6"));

            var resolver = LibraryResolver.ForExecutable(executable, $"/nonexistent::{directory.FullName}");

            Assert.Equal(Path.Combine(directory.FullName, "libc.so.6"), resolver.LibraryPaths[0]);
            Assert.Same(resolver.Open(resolver.LibraryPaths[0]), resolver.Open(resolver.LibraryPaths[0]));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void ForProcessListsTheMappedLibrariesInTheLinkersOrder()
    {
        var sleeper = fixtures.Sleeper;
        var directory = Directory.CreateTempSubdirectory("utrace-elf-");
        try
        {
            // A preloaded rand comes first in the linker's search order, though mapped below libc.
            var source = Path.Combine(directory.FullName, "myrand.c");
            File.WriteAllText(source, "int rand(void) { return 4; }\n");
            var myRand = Path.Combine(directory.FullName, "libmyrand.so");
            Tool.Run("gcc", "-shared", "-fPIC", "-o", myRand, source);
            var start = new ProcessStartInfo(sleeper) { RedirectStandardOutput = true };
            start.Environment["LD_PRELOAD"] = myRand;
            using var process = Process.Start(start)!;
            try
            {
                Assert.Equal("ready", process.StandardOutput.ReadLine());
                var executable = ElfImage.Open($"/proc/{process.Id}/exe");

                var resolver = LibraryResolver.ForProcess(process.Id, executable);

                Assert.Equal("sleeper", executable.FileName);
                Assert.Equal(sleeper, executable.RealPath);
                var mapped = File.ReadLines($"/proc/{process.Id}/maps")
                    .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
                    .Where(fields => fields.Length == 6 && fields[1].Contains('x', StringComparison.Ordinal))
                    .Select(fields => fields[5].Trim())
                    .Where(path => path.StartsWith('/') && path != sleeper)
                    .Select(path => $"/proc/{process.Id}/root{path}");
                Assert.Equal(mapped.Order(), resolver.LibraryPaths.Order());
                Assert.Equal(["libmyrand.so", "libc.so.6", "ld-linux-x86-64.so.2"], resolver.LibraryPaths.Select(Path.GetFileName));
                Assert.Equal("libmyrand.so", resolver.FindProvider("rand"));
                Assert.Equal("libc.so.6", resolver.FindProvider("pause"));
            }
            finally
            {
                process.Kill();
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
