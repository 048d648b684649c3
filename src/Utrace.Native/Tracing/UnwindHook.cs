using System.Collections.Immutable;
using Utrace.Native.Bpf;

namespace Utrace.Native.Tracing;

/// <summary>
/// An entry probe that keeps a program working through return probes: on the C++ runtime's unwinder
/// and catch, or on a routine that switches the thread to another stack.
/// </summary>
internal sealed record UnwindHook(string Path, ulong Offset, ulong Cookie)
{
    /// <summary>Where the unwinder starts walking the stack, and where a handler takes the exception.</summary>
    public static readonly IReadOnlyDictionary<string, uint> Functions = new Dictionary<string, uint>
    {
        ["_Unwind_RaiseException"] = Abi.UnwindBegin,
        ["_Unwind_Resume_or_Rethrow"] = Abi.UnwindBegin,
        ["_Unwind_ForcedUnwind"] = Abi.UnwindBegin,
        ["__cxa_begin_catch"] = Abi.UnwindCatch,
    };

    /// <summary>
    /// Routines that run the thread on another stack (ucontext, boost.context, Ruby's fibers); a hook's
    /// cookie carries the routine's index here, so the engine can say which one a process called.
    /// </summary>
    public static readonly ImmutableArray<string> StackSwitchRoutines =
        ["swapcontext", "setcontext", "jump_fcontext", "ontop_fcontext", "coroutine_transfer"];

    /// <summary>
    /// The unwinder reads its own return address to find where to start: a return probe on any
    /// _Unwind_ function would break it, so those are never traced.
    /// </summary>
    public static bool IsUnwinderInternal(string rawName) => rawName.StartsWith("_Unwind_", StringComparison.Ordinal);

    /// <summary>The routine a stack-switch hook's cookie names.</summary>
    public static string StackSwitchRoutine(uint index) => index < StackSwitchRoutines.Length ? StackSwitchRoutines[(int)index] : "a stack switch";

    /// <summary>
    /// The hooks among these functions, each with the file it is in: the unwinder's, and with
    /// <paramref name="stackSwitches"/> the stack-switch routines' too.
    /// </summary>
    public static IReadOnlyList<UnwindHook> Among(IEnumerable<(Elf.ElfFunction Function, string Path)> places, bool stackSwitches) => places
        .Select(p => CookieOf(p.Function.RawName, stackSwitches) is { } cookie ? new UnwindHook(p.Path, p.Function.FileOffset, cookie) : null)
        .OfType<UnwindHook>()
        .DistinctBy(h => (h.Path, h.Offset))
        .ToArray();

    private static ulong? CookieOf(string rawName, bool stackSwitches)
    {
        if (Functions.TryGetValue(rawName, out var unwind))
            return unwind;
        var routine = stackSwitches ? StackSwitchRoutines.IndexOf(rawName) : -1;
        return routine >= 0 ? Abi.StackSwitch | ((ulong)routine << 32) : null;
    }
}
