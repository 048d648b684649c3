using System.Collections.Frozen;

namespace Utrace.Native.Tracing;

/// <summary>
/// Which functions a return probe would break, which show that a program switches stacks, and so
/// which return mode each traced program gets.
/// </summary>
internal static class ReturnPolicy
{
    /// <summary>
    /// Functions that save their own return address, return twice, or act on their caller's
    /// address: a uretprobe would leave the kernel's trampoline where the real address belongs
    /// (setjmp saves it in the jmp_buf; dlsym(RTLD_NEXT) and dlopen find their caller by it).
    /// </summary>
    private static readonly FrozenSet<string> ReadsOwnReturnAddress = new[]
    {
        "setjmp", "_setjmp", "__setjmp", "sigsetjmp", "__sigsetjmp", "__sigsetjmp_cancel", "savectx",
        "getcontext", "__getcontext", "swapcontext", "__swapcontext",
        "vfork", "__vfork", "__libc_vfork",
        "dlopen", "dlmopen", "dlsym", "dlvsym", "__libc_dlopen_mode", "__libc_dlsym", "__libc_dlvsym",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// Functions through which a program runs code on another stack within a thread (ucontext,
    /// boost.context, the coroutine_transfer of Ruby's fibers): every function live across a switch
    /// would return through a trampoline the kernel keeps for the other stack.
    /// </summary>
    private static readonly FrozenSet<string> SwitchesStacks = new[]
    {
        "swapcontext", "__swapcontext", "makecontext", "__makecontext",
        "jump_fcontext", "ontop_fcontext", "make_fcontext", "coroutine_transfer",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// Functions that leave calls by jumping out of them: the kernel keeps the return probes of the calls
    /// left until the thread's next one is set, and sets none once 64 are pending, so a jump out of 64
    /// would leave the thread without any (a session declines one early: see on_entry_reading).
    /// </summary>
    private static readonly FrozenSet<string> JumpsOutOfCalls = new[]
    {
        "longjmp", "_longjmp", "siglongjmp", "__longjmp_chk", "__libc_longjmp", "__libc_siglongjmp",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static bool MustNotReturnProbe(string rawName) => ReadsOwnReturnAddress.Contains(rawName);

    /// <summary>The first name in <paramref name="names"/> that shows stack switching, or null.</summary>
    public static string? StackSwitchSign(IEnumerable<string> names) => names.FirstOrDefault(SwitchesStacks.Contains);

    /// <summary>Whether <paramref name="names"/> has one of the longjmp family.</summary>
    public static bool JumpsOut(IEnumerable<string> names) => names.Any(JumpsOutOfCalls.Contains);

    /// <summary>
    /// The return mode of a program: <paramref name="mode"/>, except that return probes chosen for the user
    /// give way to EntryOnly in a program whose stacks move under them (a Go program; one that switches
    /// stacks, or traces a library that does, unless <paramref name="watchesSwitches"/>: its switches are then
    /// caught as they happen, and only the process that switches loses its return probes), with
    /// <paramref name="warning"/> saying so. For the first program Auto is that choice (an explicit mode stays);
    /// for one a followed process ran, the trace's own mode is (Uretprobe, however it was chosen).
    /// </summary>
    public static ReturnMode ForProgram(FunctionCatalog catalog, FunctionSelection selection, ReturnMode mode, bool ranLater, bool watchesSwitches,
        out string? warning)
    {
        warning = null;
        var returnProbes = ranLater ? mode == ReturnMode.Uretprobe : mode == ReturnMode.Auto;
        if (!returnProbes)
            return mode;
        var (why, durations) = catalog.IsGoProgram
            ? ("is a Go program, whose runtime moves and walks its stacks",
               "For durations of the calls during which its stack does not move, use -ReturnMode RetInstruction")
            : !watchesSwitches && catalog.StackSwitchSign(selection.NestLibrary) is { } sign
                ? ($"switches stacks ({sign})", "For durations use -ReturnMode RetInstruction")
                : default;
        if (why is null)
            return ReturnMode.Uretprobe;
        warning = ranLater
            ? $"{catalog.ExecutableName} {why}: its calls are reported at entry, without durations."
            : $"{catalog.ExecutableName} {why}: return probes would change what it computes, so its calls are reported at entry, " +
              $"without durations (-ReturnMode EntryOnly). {durations}, which costs several microseconds more per call.";
        return ReturnMode.EntryOnly;
    }

    /// <summary>What a process that switched stacks lost, and when (the return probes' end in it).</summary>
    public static string SwitchedStacksWarning(string program, int pid, string routine, int tid, Timestamp time) =>
        $"{program} (process {pid}) switched stacks ({routine}, thread {tid}) at {time.LocalDateTime:HH:mm:ss.fff}: from then on its calls " +
        "are reported at entry, without durations, since return probes would have broken the switch (the calls then running in that thread have none either).";
}
