using Utrace.Native.Bpf;
using Utrace.Native.Capture;
using Utrace.Native.Elf;

namespace Utrace.Native.Tracing;

/// <summary>
/// Every decision a trace makes before it loads anything: from the options, the program's functions and
/// what the kernel can do, the BPF configuration, the return and attach modes, the probe sites, the
/// capture specs and the warnings. Pure: it reads ELF files at most, so tests reach it without BPF.
/// Options that cannot go together throw a UtraceException.
/// </summary>
internal sealed class TraceSetup
{
    /// <summary>How many functions added while a -Summary trace runs get a summary; later ones are counted in no summary.</summary>
    public const int AddedFunctionsSummarized = 4096;

    public required TraceConfig Config { get; init; }
    public ReturnMode ReturnMode => Config.ReturnMode;

    /// <summary>Auto resolved.</summary>
    public required AttachMode AttachMode { get; init; }
    public required ProbePlan Plan { get; init; }

    /// <summary>The C++ unwinder's entry points to probe: only with return probes, which the unwinder cannot walk through.</summary>
    public required IReadOnlyList<UnwindHook> UnwindHooks { get; init; }

    /// <summary>Each function's capture spec (-Capture), or null when nothing is captured.</summary>
    public required CaptureSpec?[]? Captures { get; init; }
    public required int RingBufferBytes { get; init; }

    /// <summary>Entries of the kernel's per-function summary map.</summary>
    public required int SummaryCapacity { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }

    public bool ProtectUnwind => Config.ProtectUnwind != 0;
    public bool ReadsStrings => Captures?.Any(c => c?.ReadsStrings == true) == true;

    /// <summary>Functions can be added while the trace runs: children and libraries loaded later.</summary>
    public static bool Grows(TraceOptions options) => options.Follow || options.Selection.NestLibrary is not null;

    /// <summary>The functions to trace from the start; none is an error unless more may come later.</summary>
    public static IReadOnlyList<FunctionInfo> SelectFunctions(FunctionCatalog catalog, TraceOptions options, object target)
    {
        var functions = catalog.Select(options.Selection);
        // They may come later: in the programs it runs (-Follow), in a library it has yet to load.
        if (functions.Count == 0 && !options.Follow && !LibraryComesLater(catalog, options))
            throw new UtraceException(TraceErrorKind.NotFound,
                $"No function of {catalog.ExecutableName} matches the selection ({catalog.Own.Count} functions and library calls exist).",
                $"List what can be traced with Get-UTraceFunction, then adjust -Function, -Library or -NestLibrary.", target, errorId: "NoFunctionMatches");
        return functions;
    }

    /// <summary>Decides the trace of process <paramref name="processId"/>, whose first <paramref name="functions"/> come from <paramref name="catalog"/>.</summary>
    public static TraceSetup Resolve(TraceOptions options, FunctionCatalog catalog, IReadOnlyList<FunctionInfo> functions, KernelFeatures kernel, int processId)
    {
        var warnings = new List<string>();
        var captures = ResolveCaptures(options, functions);
        // Session programs can decline a call's return probe: a process is then kept safe from its
        // first stack switch on, where otherwise a program that may switch is traced entry-only.
        var watchesSwitches = kernel.Sessions && options.AttachMode is AttachMode.Auto or AttachMode.Session &&
            options.ReturnMode is ReturnMode.Auto or ReturnMode.Uretprobe && captures?.Any(c => c?.ReadsStrings == true) != true;
        var returnMode = ReturnPolicy.ForProgram(catalog, options.Selection, options.ReturnMode, ranLater: false, watchesSwitches, out var switchWarning);
        if (switchWarning is not null)
            warnings.Add(switchWarning);
        if (returnMode == ReturnMode.EntryOnly && options.MinDuration.Nanoseconds > 0)
            throw new UtraceException(TraceErrorKind.InvalidArgument,
                "-MinDuration needs durations, which entry-only tracing does not measure.",
                "Leave out -MinDuration, or trace with -ReturnMode RetInstruction.", options.MinDuration, errorId: "MinDurationWithoutReturns");
        // As -Function's patterns are: a scope that never opens would report nothing, silently.
        if (options.Selection.Within is not null && !functions.Any(options.Selection.Scopes) && !Grows(options))
            warnings.Add($"-Within matches no function of {catalog.ExecutableName}: no call will be reported. List the names with Get-UTraceFunction.");
        if (returnMode == ReturnMode.EntryOnly && captures?.Any(c => c?.Returns is not null) == true)
            warnings.Add("Return values are not captured: calls are reported at their entry (-ReturnMode EntryOnly), before they return.");
        // The programs -Follow meets may switch stacks too (a script running curl, which links libcrypto).
        var mayMeetSwitches = watchesSwitches && returnMode == ReturnMode.Uretprobe &&
            (options.Follow || !catalog.IsGoProgram && catalog.StackSwitchSign(options.Selection.NestLibrary) is not null);
        // A session keeps a thread's return probes working after a longjmp out of many calls (see ReturnPolicy.JumpsOut).
        var jumpsOut = watchesSwitches && returnMode == ReturnMode.Uretprobe && catalog.JumpsOut(options.Selection.NestLibrary);
        var attachMode = ResolveAttachMode(options, returnMode, kernel, mayMeetSwitches || jumpsOut);
        // Return probes are what the unwinder cannot walk through (nor a stack switch); without them nothing needs patching.
        var unwindHooks = returnMode == ReturnMode.Uretprobe ? catalog.UnwindHooks(stackSwitches: attachMode == AttachMode.Session && mayMeetSwitches) : [];
        if (options.Follow && attachMode == AttachMode.PerFunction)
            throw new UtraceException(TraceErrorKind.InvalidArgument,
                "-Follow needs multi-uprobe links (Linux 6.6 or later), whose process filter each child gets its own of.",
                "Leave out -AttachMode PerFunction, or trace without -Follow.", options.AttachMode, errorId: "FollowNeedsMultiLinks");
        // A child, or a library that only comes later, may throw through return probes: keep the
        // unwinder protected (it costs about a second more of BPF verification at the start).
        var protectUnwind = unwindHooks.Count > 0 || (returnMode == ReturnMode.Uretprobe && (options.Follow || LibraryComesLater(catalog, options)));
        if (options.Follow && !kernel.StopsChildren)
            throw new UtraceException(TraceErrorKind.NotSupported,
                "-Follow needs Linux 6.13 or later: its BPF kfunc bpf_send_signal_task stops a forked child before it runs, which exact counts need.",
                "Trace without -Follow, or on a newer kernel.", Environment.OSVersion.Version, errorId: "FollowNotSupported");
        return new TraceSetup
        {
            Config = new TraceConfig
            {
                // Followed children have their own process ids; each link filters on its own process.
                TargetTgid = options.Follow ? 0u : (uint)processId,
                MinDurationNs = (ulong)Math.Max(0, options.MinDuration.Nanoseconds),
                MaxDepth = options.MaxDepth is { } max ? (uint)Math.Max(0, max) : uint.MaxValue,
                WakeupBytes = (ulong)options.WakeupBytes,
                FilterThreads = options.ThreadIds is { Count: > 0 } ? 1u : 0u,
                ProtectUnwind = protectUnwind ? 1u : 0u,
                SummaryOnly = options.SummaryOnly ? 1u : 0u,
                Scoped = options.Selection.Within is not null ? 1u : 0u,
                ReturnMode = returnMode,
            },
            AttachMode = attachMode,
            Plan = ProbePlan.Build(functions, returnMode, captures, selection: options.Selection),
            UnwindHooks = unwindHooks,
            Captures = captures,
            RingBufferBytes = options.RingBufferBytes ?? (captures is null ? TraceOptions.DefaultRingBufferBytes : TraceOptions.CaptureRingBufferBytes),
            // Summary mode's per-function map cannot grow: room for functions added later, up to a limit.
            SummaryCapacity = Grows(options) ? functions.Count + AddedFunctionsSummarized : functions.Count,
            Warnings = warnings,
        };
    }

    private static bool LibraryComesLater(FunctionCatalog catalog, TraceOptions options) =>
        options.Selection.NestLibrary is { } nest && !catalog.LibraryNames.Any(nest);

    private static CaptureSpec?[]? ResolveCaptures(TraceOptions options, IReadOnlyList<FunctionInfo> functions)
    {
        if (options.Captures is not { Count: > 0 } rules)
            return null;
        if (options.SummaryOnly)
            throw new UtraceException(TraceErrorKind.InvalidArgument, "-Summary sends no calls, so it has nothing to capture arguments of.",
                "Leave out -Capture, or -Summary.", rules[0].Pattern, errorId: "CaptureWithSummary");
        return CaptureRule.Resolve(rules, functions);
    }

    /// <summary>
    /// Sessions only time calls through return probes: other return modes get multi-uprobe links. They
    /// save the return probes of the calls their entry drops, but a delivered call costs what it costs on
    /// the pair (bench/results/overhead-modes.md), so Auto takes them for traces that drop calls at entry,
    /// and for programs that may switch stacks or longjmp (<paramref name="declinesReturns"/>): a process
    /// that switches gets no return probe from its first switch on, and a thread gets none past 63 pending.
    /// </summary>
    private static AttachMode ResolveAttachMode(TraceOptions options, ReturnMode returnMode, KernelFeatures kernel, bool declinesReturns)
    {
        var sessionsUseful = returnMode == ReturnMode.Uretprobe;
        var dropsAtEntry = options.ThreadIds is { Count: > 0 } || options.MaxDepth is not null || declinesReturns;
        switch (options.AttachMode)
        {
            case AttachMode.Auto when sessionsUseful && dropsAtEntry && kernel.Sessions:
                return AttachMode.Session;
            case AttachMode.Auto:
                return kernel.MultiLinks ? AttachMode.MultiLink : AttachMode.PerFunction;
            case AttachMode.Session when !kernel.Sessions:
                throw new UtraceException(TraceErrorKind.NotSupported,
                    "-AttachMode Session needs uprobe session programs (Linux 6.13 or later), which this kernel lacks.",
                    "Leave out -AttachMode: Auto uses the best mode this kernel has.", AttachMode.Session, errorId: "SessionNotSupported");
            case AttachMode.Session when !sessionsUseful:
                return AttachMode.MultiLink;
            default:
                return options.AttachMode;
        }
    }
}
