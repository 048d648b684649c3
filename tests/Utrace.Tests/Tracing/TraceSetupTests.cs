using Utrace.Native.Bpf;
using Utrace.Native.Capture;
using Utrace.Native.Elf;
using Utrace.Native.Tracing;
using Utrace.Tests.Elf;
using Xunit;

namespace Utrace.Tests.Tracing;

/// <summary>
/// The decisions a trace makes before it loads anything, on the fixtures' ELF files and kernels described
/// by value: no BPF, no process. fib is plain C; coro runs a coroutine through swapcontext; a Go program is built by its test.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class TraceSetupTests(ElfFixtures fixtures)
{
    private const int Pid = 4242;
    private static readonly KernelFeatures Newest = new(MultiLinks: true, Sessions: true, StopsChildren: true);

    private FunctionCatalog Fib => FunctionCatalog.ForExecutable(fixtures.PathOf("gcc-O2-pie/fib"), null);
    private FunctionCatalog Coro => FunctionCatalog.ForExecutable(fixtures.PathOf("gcc-O2-pie/coro"), null);

    private static TraceOptions FibOnly() => new()
    {
        Selection = new FunctionSelection { Include = name => name == "fib" },
    };

    private static TraceSetup Resolve(FunctionCatalog catalog, TraceOptions options, KernelFeatures? kernel = null) =>
        TraceSetup.Resolve(options, catalog, catalog.Select(options.Selection), kernel ?? Newest, Pid);

    private static string ErrorIdOf(Action setUp) => Assert.Throws<UtraceException>(setUp).ErrorId!;

    [Fact]
    public void APlainProgramIsTimedByReturnProbesOnMultiLinks()
    {
        var setup = Resolve(Fib, FibOnly());

        Assert.Equal(ReturnMode.Uretprobe, setup.ReturnMode);
        Assert.Equal(AttachMode.MultiLink, setup.AttachMode);
        Assert.Empty(setup.Warnings);
        Assert.Empty(setup.UnwindHooks);
        Assert.Null(setup.Captures);
        Assert.Equal(new TraceConfig
        {
            TargetTgid = Pid,
            MinDurationNs = 0,
            MaxDepth = uint.MaxValue,
            WakeupBytes = 64 * 1024,
            FilterThreads = 0,
            ProtectUnwind = 0,
            SummaryOnly = 0,
            ReturnMode = ReturnMode.Uretprobe,
        }, setup.Config);
        Assert.Equal(TraceOptions.DefaultRingBufferBytes, setup.RingBufferBytes);
        Assert.Equal(1, setup.SummaryCapacity);
        Assert.Equal([0, 0], setup.Plan.Sites.Select(site => site.FunctionId));
    }

    [Fact]
    public void AProgramThatMaySwitchStacksKeepsReturnProbesOnSessionsThatWatchItsSwitches()
    {
        var setup = Resolve(Coro, new TraceOptions());

        Assert.Equal(ReturnMode.Uretprobe, setup.ReturnMode);
        Assert.Equal(AttachMode.Session, setup.AttachMode);
        Assert.Equal(1u, setup.Config.ProtectUnwind);
        Assert.Empty(setup.Warnings);
        // libc's two ucontext switches, each hook's cookie naming its routine.
        var switches = setup.UnwindHooks.Where(hook => (uint)hook.Cookie == Abi.StackSwitch)
            .Select(hook => UnwindHook.StackSwitchRoutine((uint)(hook.Cookie >> 32))).Order();
        Assert.Equal(["setcontext", "swapcontext"], switches);
        Assert.All(setup.UnwindHooks.Where(hook => (uint)hook.Cookie == Abi.StackSwitch), hook => Assert.EndsWith("libc.so.6", hook.Path));
    }

    [Theory]
    [InlineData(false, AttachMode.Auto)]
    [InlineData(true, AttachMode.MultiLink)]
    [InlineData(true, AttachMode.PerFunction)]
    public void AProgramThatMaySwitchStacksIsTracedEntryOnlyWithAWarningWithoutSessions(bool kernelSessions, AttachMode attachMode)
    {
        var setup = Resolve(Coro, new TraceOptions { AttachMode = attachMode }, Newest with { Sessions = kernelSessions });

        Assert.Equal(ReturnMode.EntryOnly, setup.ReturnMode);
        Assert.Equal(ReturnMode.EntryOnly, setup.Config.ReturnMode);
        Assert.Empty(setup.UnwindHooks);
        Assert.Equal(0u, setup.Config.ProtectUnwind);
        Assert.Equal(
            ["coro switches stacks (swapcontext): return probes would change what it computes, so its calls are reported at entry, " +
             "without durations (-ReturnMode EntryOnly). For durations use -ReturnMode RetInstruction, which costs several microseconds more per call."],
            setup.Warnings);
    }

    [Fact]
    public void RubyWithLibrubyNestedIsWatchedForItsFibersSwitchesInLibruby()
    {
        var ruby = FunctionCatalog.ForExecutable(Tool.Run("sh", "-c", "readlink -f \"$(command -v ruby)\"").Trim(), null);
        var options = new TraceOptions { Selection = new FunctionSelection { NestLibrary = name => name.StartsWith("libruby", StringComparison.Ordinal) } };

        var setup = Resolve(ruby, options);

        Assert.Equal(ReturnMode.Uretprobe, setup.ReturnMode);
        Assert.Equal(AttachMode.Session, setup.AttachMode);
        Assert.Empty(setup.Warnings);
        // coroutine_transfer is untyped assembly in libruby: hooked all the same.
        var transfer = Assert.Single(setup.UnwindHooks, hook => (uint)hook.Cookie == Abi.StackSwitch && UnwindHook.StackSwitchRoutine((uint)(hook.Cookie >> 32)) == "coroutine_transfer");
        Assert.StartsWith("libruby", Path.GetFileName(transfer.Path));
    }

    [Fact]
    public void AProgramThatImportsNoSwitchRoutineGetsNoSwitchHooksEvenOnSessions()
    {
        var withDepth = Resolve(Fib, new TraceOptions { Selection = FibOnly().Selection, MaxDepth = 3 });

        Assert.Equal(AttachMode.Session, withDepth.AttachMode);
        Assert.DoesNotContain(withDepth.UnwindHooks, hook => (uint)hook.Cookie == Abi.StackSwitch);
        Assert.Contains(Resolve(Coro, new TraceOptions { MaxDepth = 3 }).UnwindHooks, hook => (uint)hook.Cookie == Abi.StackSwitch);
    }

    [Theory]
    [InlineData(ReturnMode.Uretprobe)]
    [InlineData(ReturnMode.RetInstruction)]
    [InlineData(ReturnMode.EntryOnly)]
    public void AReturnModeAskedForIsKeptEvenWhenTheProgramSwitchesStacks(ReturnMode asked)
    {
        var setup = Resolve(Coro, new TraceOptions { ReturnMode = asked });

        Assert.Equal(asked, setup.ReturnMode);
        Assert.Equal(asked, setup.Config.ReturnMode);
        Assert.Empty(setup.Warnings);
    }

    [Theory]
    [InlineData(ReturnMode.Uretprobe, false, ReturnMode.EntryOnly, "coro switches stacks (swapcontext): its calls are reported at entry, without durations.")]
    [InlineData(ReturnMode.Uretprobe, true, ReturnMode.Uretprobe, null)]
    [InlineData(ReturnMode.RetInstruction, false, ReturnMode.RetInstruction, null)]
    [InlineData(ReturnMode.EntryOnly, false, ReturnMode.EntryOnly, null)]
    public void AProgramRunLaterSwitchingStacksLeavesReturnProbesOnlyWhereSwitchesAreNotWatched(ReturnMode traceMode, bool watchesSwitches,
        ReturnMode expected, string? warning)
    {
        Assert.Equal(expected, ReturnPolicy.ForProgram(Coro, new FunctionSelection(), traceMode, ranLater: true, watchesSwitches, out var given));
        Assert.Equal(warning, given);
        Assert.Equal(ReturnMode.Uretprobe, ReturnPolicy.ForProgram(Fib, new FunctionSelection(), ReturnMode.Uretprobe, ranLater: true, watchesSwitches, out var none));
        Assert.Null(none);
    }

    [Theory]
    [InlineData("runtimes", "")]
    [InlineData("runtimes-stripped", "-s -w")] // no .symtab: known by the sections Go keeps
    public void AGoProgramIsTracedEntryOnlyWithAWarning(string name, string linkerFlags)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "go-fixtures");
        var program = Path.Combine(directory, name);
        // Go's build cache and home in the test's own directory: go builds as any user, root included.
        Tool.Run("env", $"GOCACHE={directory}/cache", $"HOME={directory}", $"GOPATH={directory}/go",
            "go", "build", $"-ldflags={linkerFlags}", "-o", program, RepoPaths.File("tests/fixtures/go/runtimes.go"));
        var go = FunctionCatalog.ForExecutable(program, null);

        var setup = Resolve(go, new TraceOptions());

        Assert.Equal(ReturnMode.EntryOnly, setup.ReturnMode);
        Assert.Equal(
            [$"{name} is a Go program, whose runtime moves and walks its stacks: return probes would change what it computes, so its calls " +
             "are reported at entry, without durations (-ReturnMode EntryOnly). For durations of the calls during which its stack does not move, " +
             "use -ReturnMode RetInstruction, which costs several microseconds more per call."],
            setup.Warnings);
        Assert.Equal(ReturnMode.RetInstruction, Resolve(go, new TraceOptions { ReturnMode = ReturnMode.RetInstruction }).ReturnMode);
        Assert.Equal(ReturnMode.EntryOnly, ReturnPolicy.ForProgram(go, new FunctionSelection(), ReturnMode.Uretprobe, ranLater: true, watchesSwitches: true, out var followed));
        Assert.Equal($"{name} is a Go program, whose runtime moves and walks its stacks: its calls are reported at entry, without durations.", followed);
    }

    [Fact]
    public void MinDurationWithoutDurationsIsRefused()
    {
        Assert.Equal("MinDurationWithoutReturns", ErrorIdOf(() => Resolve(Coro, new TraceOptions { MinDuration = Duration.FromNanoseconds(1000) },
            Newest with { Sessions = false })));
        Assert.Equal(1000ul, Resolve(Coro, new TraceOptions { MinDuration = Duration.FromNanoseconds(1000), ReturnMode = ReturnMode.RetInstruction }).Config.MinDurationNs);
    }

    [Fact]
    public void AutoTakesSessionsOnlyForReturnProbesThatDropCallsAtEntry()
    {
        var withDepth = new TraceOptions { Selection = FibOnly().Selection, MaxDepth = 3 };
        var withThreads = new TraceOptions { Selection = FibOnly().Selection, ThreadIds = [7] };

        Assert.Equal(AttachMode.Session, Resolve(Fib, withDepth).AttachMode);
        Assert.Equal(3u, Resolve(Fib, withDepth).Config.MaxDepth);
        Assert.Equal(AttachMode.Session, Resolve(Fib, withThreads).AttachMode);
        Assert.Equal(1u, Resolve(Fib, withThreads).Config.FilterThreads);
        Assert.Equal(AttachMode.MultiLink, Resolve(Fib, withDepth, Newest with { Sessions = false }).AttachMode);
        Assert.Equal(AttachMode.MultiLink, Resolve(Fib, new TraceOptions { MaxDepth = 3, ReturnMode = ReturnMode.EntryOnly }).AttachMode);
        Assert.Equal(AttachMode.PerFunction, Resolve(Fib, FibOnly(), new KernelFeatures(false, false, false)).AttachMode);
    }

    [Fact]
    public void SessionsAskedForNeedTheKernelAndAreUsedOnlyWithReturnProbes()
    {
        Assert.Equal("SessionNotSupported", ErrorIdOf(() => Resolve(Fib, new TraceOptions { AttachMode = AttachMode.Session }, Newest with { Sessions = false })));
        Assert.Equal(AttachMode.Session, Resolve(Fib, new TraceOptions { AttachMode = AttachMode.Session }).AttachMode);
        Assert.Equal(AttachMode.MultiLink, Resolve(Fib, new TraceOptions { AttachMode = AttachMode.Session, ReturnMode = ReturnMode.RetInstruction }).AttachMode);
        Assert.Equal(AttachMode.PerFunction, Resolve(Fib, new TraceOptions { AttachMode = AttachMode.PerFunction }).AttachMode);
    }

    [Fact]
    public void FollowNeedsMultiLinksAndAKernelThatStopsChildren()
    {
        Assert.Equal("FollowNeedsMultiLinks", ErrorIdOf(() => Resolve(Fib, new TraceOptions { Follow = true, AttachMode = AttachMode.PerFunction })));
        Assert.Equal("FollowNeedsMultiLinks", ErrorIdOf(() => Resolve(Fib, new TraceOptions { Follow = true }, new KernelFeatures(false, false, true))));
        Assert.Equal("FollowNotSupported", ErrorIdOf(() => Resolve(Fib, new TraceOptions { Follow = true }, Newest with { StopsChildren = false })));

        var setup = Resolve(Fib, new TraceOptions { Follow = true, SummaryOnly = true, Selection = FibOnly().Selection });
        // Children have their own pids; they may throw through return probes, or switch stacks; their functions get summaries too.
        Assert.Equal(AttachMode.Session, setup.AttachMode);
        Assert.Contains(setup.UnwindHooks, hook => (uint)hook.Cookie == Abi.StackSwitch);
        Assert.Equal(0u, setup.Config.TargetTgid);
        Assert.Equal(1u, setup.Config.ProtectUnwind);
        Assert.Equal(1u, setup.Config.SummaryOnly);
        Assert.Equal(1 + TraceSetup.AddedFunctionsSummarized, setup.SummaryCapacity);
    }

    [Fact]
    public void CapturesAreRefusedWithSummaryAndLoseReturnValuesEntryOnly()
    {
        CaptureRule[] rules = [new CaptureRule("fib", name => name == "fib", CaptureSpec.Parse("int -> int"))];

        Assert.Equal("CaptureWithSummary", ErrorIdOf(() => Resolve(Fib, new TraceOptions { Captures = rules, SummaryOnly = true })));
        var timed = Resolve(Fib, new TraceOptions { Captures = rules, Selection = FibOnly().Selection });
        Assert.Empty(timed.Warnings);
        Assert.Equal(TraceOptions.CaptureRingBufferBytes, timed.RingBufferBytes);
        Assert.NotNull(Assert.Single(timed.Captures!));
        Assert.False(timed.ReadsStrings);
        var entryOnly = Resolve(Fib, new TraceOptions { Captures = rules, Selection = FibOnly().Selection, ReturnMode = ReturnMode.EntryOnly });
        Assert.Equal(["Return values are not captured: calls are reported at their entry (-ReturnMode EntryOnly), before they return."], entryOnly.Warnings);
    }

    [Fact]
    public void ASelectionOfNothingIsAnErrorUnlessMoreMayComeLater()
    {
        var nothing = new FunctionSelection { Include = _ => false };

        Assert.Equal("NoFunctionMatches", ErrorIdOf(() => TraceSetup.SelectFunctions(Fib, new TraceOptions { Selection = nothing }, "fib")));
        Assert.Empty(TraceSetup.SelectFunctions(Fib, new TraceOptions { Selection = nothing, Follow = true }, "fib"));
        var laterLibrary = new FunctionSelection { Include = _ => false, NestLibrary = name => name == "libnotyet.so" };
        Assert.Empty(TraceSetup.SelectFunctions(Fib, new TraceOptions { Selection = laterLibrary }, "fib"));
        Assert.Equal(["fib"], TraceSetup.SelectFunctions(Fib, FibOnly(), "fib").Select(f => f.Name));
    }

    [Fact]
    public void TheNotProbedWarningNamesTenFunctionsAndCountsTheRest()
    {
        var functions = Enumerable.Range(0, 12)
            .Select(i => new FunctionInfo($"f{i}", $"f{i}", "cc", FunctionKind.Function, (ulong)i * 16, 16, "/bin/cc"))
            .ToArray();
        var leftOut = Enumerable.Range(0, 12).Reverse().ToDictionary(id => id, id => id % 2 == 0 ? "too short" : "no room");

        Assert.Null(NotProbedWarning.For(new Dictionary<int, string>(), functions));
        Assert.Equal(
            "12 function(s) cannot be probed and are not traced: f0 (too short); f1 (no room); f2 (too short); f3 (no room); f4 (too short); " +
            "f5 (no room); f6 (too short); f7 (no room); f8 (too short); f9 (no room), and 2 more.",
            NotProbedWarning.For(leftOut, functions));
        Assert.Equal("1 function(s) cannot be probed and are not traced: f3 (no room).",
            NotProbedWarning.For(new Dictionary<int, string> { [3] = "no room" }, functions));
        Assert.Equal("12 function(s) of cc cannot be probed and are not traced: f0, f1, f2, f3, f4, f5, f6, f7, f8, f9.",
            NotProbedWarning.For("cc", functions.Select(f => f.Name).ToArray()));
        Assert.Null(NotProbedWarning.For("cc", []));
    }
}
