using Utrace.Native.Bpf;

namespace Utrace.Native.Tracing;

/// <summary>An entry probe on the C++ runtime that keeps exceptions working through return probes.</summary>
internal sealed record UnwindHook(string Path, ulong Offset, uint Cookie)
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
    /// The unwinder reads its own return address to find where to start: a return probe on any
    /// _Unwind_ function would break it, so those are never traced.
    /// </summary>
    public static bool IsUnwinderInternal(string rawName) => rawName.StartsWith("_Unwind_", StringComparison.Ordinal);

    /// <summary>The hooks among these functions, each with the file it is in.</summary>
    public static IReadOnlyList<UnwindHook> Among(IEnumerable<(Elf.ElfFunction Function, string Path)> places) => places
        .Where(p => Functions.ContainsKey(p.Function.RawName))
        .Select(p => new UnwindHook(p.Path, p.Function.FileOffset, Functions[p.Function.RawName]))
        .ToArray();
}
