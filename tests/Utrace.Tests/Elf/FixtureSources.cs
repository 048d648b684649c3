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
        ["longjmp"] = ["fault_a", "fault_b", "fault_c", "main"],
        ["sigjmp"] = ["attempt", "deep_a", "deep_b", "fault_a", "fault_b", "fault_c", "on_signal", "main"],
        ["altstack"] = ["handle_round", "handler_leaf", "handler_work", "inner", "jump_round", "on_signal", "outer", "main"],
        ["coro"] = ["coroutine", "resume", "work", "main"],
        ["generator"] = ["generate", "next_value", "produce", "yield_value", "main"],
        ["pingpong"] = ["hit", "ping", "pong", "main"],
        ["ctxloop"] = ["count_round", "loop", "step", "step_leaf", "main"],
        ["vforkexec"] = ["report", "spawn", "main"],
        ["nested_try"] = ["act(int)", "inner(int)", "middle(int)", "outer(int)", "main"],
        ["throw_loop"] = ["fail(int)", "attempt(int)", "main"],
        ["hammer"] = ["tick", "tock", "tock_named", "run", "main"],
    };

    /// <summary>Functions the source defines but the optimiser may inline away; present exactly when nm lists them.</summary>
    private static readonly Dictionary<string, string[]> MaybeInlined = new()
    {
        ["cxx"] = ["geo::Shape::Shape(double)"],
        ["pingpong"] = ["make_coroutine", "fold"],
    };

    /// <summary>
    /// False for the C++ fixtures whose source instantiates library templates (std::thread,
    /// std::to_string, destructors of local classes): which instantiations a build keeps is the
    /// compiler's choice, not something the source says.
    /// </summary>
    public static bool Knows(string program) => AlwaysDefined.ContainsKey(program);

    /// <summary>The functions the source of <paramref name="program"/> defines that this build of it contains.</summary>
    public static IReadOnlyList<string> FunctionsIn(string program, IReadOnlySet<string> nmDemangledNames) =>
        [.. AlwaysDefined[program], .. MaybeInlined.GetValueOrDefault(program, []).Where(nmDemangledNames.Contains)];

    /// <summary>The functions of <paramref name="program"/> that can never be inlined away.</summary>
    public static IReadOnlyList<string> AlwaysIn(string program) => AlwaysDefined[program];
}
