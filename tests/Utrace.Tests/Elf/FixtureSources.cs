namespace Utrace.Tests.Elf;

/// <summary>
/// The functions each program of tests/fixtures defines, written from its source: what discovery must find
/// in a build of it, and nothing else (no start-up code, no compiler fragments such as "f.cold").
/// </summary>
internal static class FixtureSources
{
    /// <summary>Functions every build keeps: the TRACED ones (noinline), main, and statics whose address is taken.</summary>
    private static readonly Dictionary<string, string[]> AlwaysDefined = new()
    {
        ["fib"] = ["fib", "main"],
        ["chain"] = ["a", "b", "c", "main"],
        ["libcalls"] = ["make", "main"],
        ["threads"] = ["work", "run", "main"],
        ["server"] = ["handle_request", "background_task", "worker", "main"],
        ["slowfast"] = ["fast", "slow", "main"],
        ["forks"] = ["work", "spawn", "main"],
        ["cxx"] = ["geo::Shape::area() const", "int twice<int>(int)", "main"],
        ["throws"] = ["validate(int)", "check(int)", "handle(int)", "main"],
    };

    /// <summary>Functions the source defines but the optimiser may inline away; present exactly when nm lists them.</summary>
    private static readonly Dictionary<string, string[]> MaybeInlined = new()
    {
        ["cxx"] = ["geo::Shape::Shape(double)"],
    };

    /// <summary>The functions the source of <paramref name="program"/> defines that this build of it contains.</summary>
    public static IReadOnlyList<string> FunctionsIn(string program, IReadOnlySet<string> nmDemangledNames) =>
        [.. AlwaysDefined[program], .. MaybeInlined.GetValueOrDefault(program, []).Where(nmDemangledNames.Contains)];

    /// <summary>The functions of <paramref name="program"/> that can never be inlined away.</summary>
    public static IReadOnlyList<string> AlwaysIn(string program) => AlwaysDefined[program];
}
