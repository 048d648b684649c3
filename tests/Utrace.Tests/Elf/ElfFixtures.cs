using Xunit;

namespace Utrace.Tests.Elf;

/// <summary>
/// Builds tests/fixtures once per test run (`make`, every compiler/optimisation/PIE variant) plus the variants
/// the Makefile lacks: IBT stubs in .plt.sec, -z now, a throwing C++ program, an object file, a library
/// found through DT_RUNPATH or DT_RPATH, an empty program, and stripped PIE and non-PIE builds. A failed build fails every test that uses it.
/// </summary>
public sealed class ElfFixtures
{

    /// <summary>The programs `make` builds (C_FIXTURES and CXX_FIXTURES), in each of <see cref="MakeVariants"/>.</summary>
    public static IReadOnlyList<string> Programs => [.. MakefileList("C_FIXTURES"), .. MakefileList("CXX_FIXTURES")];

    /// <summary>The directories `make` creates: &lt;cc&gt;-&lt;opt&gt;-&lt;pie|nopie&gt;.</summary>
    public static IReadOnlyList<string> MakeVariants =>
        (from compiler in MakefileList("COMPILERS")
         from optimisation in MakefileList("OPTS")
         from pie in MakefileList("PIES")
         select $"{compiler}-{optimisation}-{pie}").ToArray();

    // Debian's crt files carry no IBT marker, so -fcf-protection alone keeps the plain PLT: -z ibtplt forces .plt.sec.
    private static readonly (string Variant, string Flags, string[] Programs)[] ExtraVariants =
    [
        ("gcc-O2-cet-pie", "-fPIE -pie -fcf-protection=full -Wl,-z,ibtplt", ["libcalls", "cxx"]),
        ("gcc-O2-cet-nopie", "-fno-pie -no-pie -fcf-protection=full -Wl,-z,ibtplt", ["libcalls"]),
        ("gcc-O2-znow-pie", "-fPIE -pie -Wl,-z,now", ["libcalls", "fib"]),
    ];

    private const string ThrowerSource = "int main(int argc, char **) { if (argc > 5) throw argc; return 0; }\n";
    private const string LibrarySource = "int utfix_hello(void) { return 42; }\n";
    private const string SleeperSource = "#include <stdio.h>\n#include <unistd.h>\nint main(void) { puts(\"ready\"); fflush(stdout); for (;;) pause(); }\n";
    private const string EmptySource = "int main(void) { return 0; }\n";
    private const string LibraryUserSource = "int utfix_hello(void);\nint main(void) { return utfix_hello() == 42 ? 0 : 1; }\n";

    public ElfFixtures()
    {
        OutDir = Path.Combine(AppContext.BaseDirectory, "elf-fixtures");
        var sources = Path.Combine(RepoPaths.Root, "tests", "fixtures");
        Tool.Run("make", "-C", sources, $"OUT={OutDir}", $"-j{Environment.ProcessorCount}");

        var compilations = new List<string[]>();
        foreach (var (variant, flags, programs) in ExtraVariants)
        {
            Directory.CreateDirectory(Path.Combine(OutDir, variant));
            foreach (var program in programs)
            {
                var isCxx = program == "cxx";
                var source = Path.Combine(sources, isCxx ? $"{program}.cpp" : $"{program}.c");
                compilations.Add([isCxx ? "g++" : "gcc", "-O2", .. flags.Split(' '), "-pthread", "-o", PathOf($"{variant}/{program}"), source]);
            }
        }

        var extra = Path.Combine(OutDir, "extra");
        Directory.CreateDirectory(Path.Combine(extra, "a"));
        Directory.CreateDirectory(Path.Combine(extra, "b"));
        File.WriteAllText(Path.Combine(extra, "thrower.cpp"), ThrowerSource);
        File.WriteAllText(Path.Combine(extra, "sleeper.c"), SleeperSource);
        File.WriteAllText(Path.Combine(extra, "utfix.c"), LibrarySource);
        File.WriteAllText(Path.Combine(extra, "utfix-user.c"), LibraryUserSource);
        compilations.Add(["g++", "-O2", "-o", Thrower, Path.Combine(extra, "thrower.cpp")]);
        compilations.Add(["gcc", "-O2", "-o", Sleeper, Path.Combine(extra, "sleeper.c")]);
        File.WriteAllText(Path.Combine(extra, "empty.c"), EmptySource);
        compilations.Add(["gcc", "-O2", "-o", Empty, Path.Combine(extra, "empty.c")]);
        var libcalls = Path.Combine(sources, "libcalls.c");
        compilations.Add(["gcc", "-O2", "-fno-pie", "-no-pie", "-rdynamic", "-o", StrippedNonPie, libcalls]);
        compilations.Add(["gcc", "-O2", "-fPIE", "-pie", "-o", StrippedPie, libcalls]);
        compilations.Add(["gcc", "-c", "-o", ObjectFile, Path.Combine(extra, "utfix.c")]);
        foreach (var directory in new[] { "a", "b" })
        {
            compilations.Add(["gcc", "-shared", "-fPIC", "-Wl,-soname,libutfix.so.1", "-o", Path.Combine(extra, directory, "libutfix.so.1"), Path.Combine(extra, "utfix.c")]);
        }

        Parallel.ForEach(compilations, command => Tool.Run(command[0], command[1..]));
        Tool.Run("strip", StrippedNonPie, StrippedPie);

        // Linked after the libraries exist: one program finds them through DT_RUNPATH, one through DT_RPATH.
        var users = new[] { (Program: RunPathUser, Tags: "--enable-new-dtags"), (Program: RPathUser, Tags: "--disable-new-dtags") };
        Parallel.ForEach(users, user => Tool.Run(
            "gcc", "-o", user.Program, Path.Combine(extra, "utfix-user.c"), $"-L{Path.Combine(extra, "a")}", "-l:libutfix.so.1",
            "-Wl,-rpath,$ORIGIN/a", $"-Wl,{user.Tags}"));
    }

    public string OutDir { get; }

    public string Thrower => Path.Combine(OutDir, "extra", "thrower");

    /// <summary>Prints "ready" and then waits to be killed.</summary>
    public string Sleeper => Path.Combine(OutDir, "extra", "sleeper");

    /// <summary>`int main` and nothing else: what it holds besides main is the C runtime's start-up code.</summary>
    public string Empty => Path.Combine(OutDir, "extra", "empty");

    /// <summary>libcalls.c built non-PIE with -rdynamic (its global functions in .dynsym), then stripped.</summary>
    public string StrippedNonPie => Path.Combine(OutDir, "extra", "libcalls-stripped-nopie");

    /// <summary>libcalls.c built as a PIE, then stripped: only .dynsym and the PLT are left.</summary>
    public string StrippedPie => Path.Combine(OutDir, "extra", "libcalls-stripped-pie");

    public string ObjectFile => Path.Combine(OutDir, "extra", "utfix.o");

    /// <summary>Finds libutfix.so.1 in extra/a through DT_RUNPATH "$ORIGIN/a"; extra/b has another copy.</summary>
    public string RunPathUser => Path.Combine(OutDir, "extra", "runpath-user");

    /// <summary>Like <see cref="RunPathUser"/>, with DT_RPATH instead.</summary>
    public string RPathUser => Path.Combine(OutDir, "extra", "rpath-user");

    /// <summary>Every built program as "variant/program", for theories.</summary>
    public static IEnumerable<object[]> AllBinaries() =>
        MakeVariants.SelectMany(variant => Programs.Select(program => $"{variant}/{program}"))
            .Concat(ExtraVariants.SelectMany(extra => extra.Programs.Select(program => $"{extra.Variant}/{program}")))
            .Select(binary => new object[] { binary });

    /// <summary>The -g builds `make` makes (DEBUG_PROGRAMS by each compiler and -O level), as "debug/&lt;cc&gt;-&lt;opt&gt;/&lt;program&gt;".</summary>
    public static IEnumerable<object[]> DebugBinaries(params string[] programs) =>
        from compiler in MakefileList("COMPILERS")
        from optimisation in MakefileList("OPTS")
        from program in programs.Length > 0 ? programs : MakefileList("DEBUG_PROGRAMS")
        select new object[] { $"debug/{compiler}-{optimisation}/{program}" };

    public static IEnumerable<object[]> Variants(string program) =>
        MakeVariants.Select(variant => new object[] { $"{variant}/{program}" });

    public string PathOf(string binary) => Path.Combine(OutDir, binary);

    /// <summary>A variable of tests/fixtures/Makefile, which owns the list of fixtures and variants.</summary>
    private static string[] MakefileList(string variable)
    {
        var makefile = Path.Combine(RepoPaths.Root, "tests", "fixtures", "Makefile");
        var prefix = variable + " :=";
        var line = File.ReadLines(makefile).SingleOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"{makefile} defines no {variable}.");
        return line[prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }
}

[CollectionDefinition(Name)]
public sealed class ElfFixturesCollection : ICollectionFixture<ElfFixtures>
{
    public const string Name = "ELF fixtures";
}
