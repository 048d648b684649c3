using System.Collections.Frozen;
using ELFSharp.ELF.Sections;

namespace Utrace.Native.Elf;

/// <summary>Turns symbol-table entries into probe-able functions: one per address, sorted by address.</summary>
internal static class FunctionTable
{
    // The C runtime's start-up and tear-down code: every program has it, nobody means to trace it.
    // Also the profiling hooks of -pg builds (their start-up, and the mcount or __fentry__ call the
    // compiler puts at every function's entry): probed, they would double every call's cost and show
    // up as a callee of every function.
    private static readonly FrozenSet<string> StartupNoise = new[]
    {
        "_start", "_init", "_fini", "__libc_csu_init", "__libc_csu_fini", "_dl_relocate_static_pie",
        "deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux", "frame_dummy",
        "__gmon_start__", "__monstartup", "monstartup", "_mcleanup", "mcount", "_mcount", "__fentry__",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Code with a body: a defined STT_FUNC of non-zero size in an executable section.</summary>
    private static bool IsDefinedCode(SymbolEntry<ulong> symbol) =>
        symbol.Type == SymbolType.Function
        && symbol.Size > 0
        && IsDefined(symbol)
        && (symbol.PointedSection.Flags & SectionFlags.Executable) != 0;

    internal static bool IsDefined(SymbolEntry<ulong> symbol) =>
        !symbol.IsPointedIndexSpecial && symbol.PointedSectionIndex != 0;

    internal static bool IsStartupNoise(string name) =>
        StartupNoise.Contains(name)
        || name.StartsWith("__x86.get_pc_thunk.", StringComparison.Ordinal)
        || IsColdPart(name);

    // gcc's hot/cold splitting: "f.cold" (or "f.cold.3") is only jumped to from inside f, never called.
    private static bool IsColdPart(string name) =>
        name.EndsWith(".cold", StringComparison.Ordinal) || name.Contains(".cold.", StringComparison.Ordinal);

    /// <summary>
    /// The parts gcc splits off functions as unlikely to run (f.cold): never called, so never traced, but
    /// the calls they make are f's (its error paths), so call sites are looked for there too.
    /// </summary>
    internal static IReadOnlyList<ElfFunction> ColdParts(IEnumerable<SymbolEntry<ulong>> symbols) =>
        symbols
            .Where(symbol => IsDefinedCode(symbol) && IsColdPart(StripVersion(symbol.Name)))
            .DistinctBy(symbol => symbol.Value)
            .Select(symbol => new ElfFunction(StripVersion(symbol.Name), FunctionKind.Function, symbol.Value, FileOffset(symbol), symbol.Size))
            .ToArray();

    /// <summary>.symtab spells versioned symbols "name@VERSION"; probes and people want the plain name.</summary>
    internal static string StripVersion(string name)
    {
        var at = name.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? name : name[..at];
    }

    /// <summary>
    /// The code symbols among <paramref name="symbols"/> without the start-up noise, with aliases at one address
    /// collapsed to the most public, then shortest, name.
    /// </summary>
    internal static IReadOnlyList<ElfFunction> Build(IEnumerable<SymbolEntry<ulong>> symbols, FunctionKind kind) =>
        symbols
            .Where(IsDefinedCode)
            .Select(symbol => (Symbol: symbol, Name: StripVersion(symbol.Name)))
            .Where(entry => !IsStartupNoise(entry.Name))
            .GroupBy(entry => entry.Symbol.Value)
            .Select(aliases => aliases
                .OrderBy(entry => BindingRank(entry.Symbol.Binding))
                .ThenBy(entry => entry.Name.Length)
                .ThenBy(entry => entry.Name, StringComparer.Ordinal)
                .First())
            .OrderBy(entry => entry.Symbol.Value)
            .Select(entry => new ElfFunction(entry.Name, kind, entry.Symbol.Value, FileOffset(entry.Symbol), entry.Symbol.Size))
            .ToArray();

    /// <summary>
    /// Entry points of hand-written assembly among <paramref name="symbols"/>: defined symbols without a type
    /// in an executable section (libruby's coroutine_transfer). Not traced, but hooks may go on them.
    /// </summary>
    internal static IReadOnlyList<ElfFunction> BuildUntyped(IEnumerable<SymbolEntry<ulong>> symbols) =>
        symbols
            .Where(symbol => symbol.Type == SymbolType.NotSpecified && symbol.Name.Length > 0 && IsDefined(symbol)
                && (symbol.PointedSection.Flags & SectionFlags.Executable) != 0)
            .DistinctBy(symbol => symbol.Value)
            .Select(symbol => new ElfFunction(StripVersion(symbol.Name), FunctionKind.Export, symbol.Value, FileOffset(symbol), symbol.Size))
            .ToArray();

    private static int BindingRank(SymbolBinding binding) => binding switch
    {
        SymbolBinding.Global => 0,
        SymbolBinding.Weak => 1,
        _ => 2,
    };

    private static ulong FileOffset(SymbolEntry<ulong> symbol) =>
        symbol.Value - symbol.PointedSection.LoadAddress + symbol.PointedSection.Offset;
}
