namespace Utrace.Tests.Elf;

/// <summary>What ElfImage.Functions should hold, computed from the binutils' symbol lists by the documented rules.</summary>
internal static class Expected
{
    private static readonly HashSet<string> StartupNoise =
    [
        "_start", "_init", "_fini", "__libc_csu_init", "__libc_csu_fini", "_dl_relocate_static_pie",
        "deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux", "frame_dummy",
    ];

    /// <summary>Start-up noise left out, then one name per address: global before weak before local, then the shortest.</summary>
    public static IReadOnlyList<(ulong Address, string Name)> Functions(IEnumerable<ToolSymbol> symbols) =>
        symbols
            .Where(symbol => symbol.Size > 0 && !IsNoise(symbol.Name))
            .GroupBy(symbol => symbol.Address)
            .Select(aliases => aliases.OrderBy(s => s.BindingRank).ThenBy(s => s.Name.Length).ThenBy(s => s.Name, StringComparer.Ordinal).First())
            .OrderBy(symbol => symbol.Address)
            .Select(symbol => (symbol.Address, symbol.Name))
            .ToArray();

    /// <summary>readelf's defined FUNC symbols (not IFUNC) with a size.</summary>
    public static IEnumerable<ToolSymbol> DefinedFunctions(IEnumerable<ToolSymbol> readelfSymbols) =>
        readelfSymbols.Where(symbol => symbol.Type == "FUNC" && symbol.SectionIndex is not ("UND" or "ABS") && symbol.Size > 0);

    private static bool IsNoise(string name) =>
        StartupNoise.Contains(name)
        || name.StartsWith("__x86.get_pc_thunk.", StringComparison.Ordinal)
        || name.EndsWith(".cold", StringComparison.Ordinal)
        || name.Contains(".cold.", StringComparison.Ordinal);
}
