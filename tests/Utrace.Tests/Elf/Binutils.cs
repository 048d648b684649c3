using System.Globalization;
using System.Text.RegularExpressions;

namespace Utrace.Tests.Elf;

/// <summary>A symbol as nm or readelf reports it. BindingRank: 0 global, 1 weak, 2 local.</summary>
internal sealed record ToolSymbol(
    string Name, ulong Address, ulong Size, int BindingRank, string Type = "FUNC", string Visibility = "DEFAULT", string SectionIndex = "");

internal sealed record ToolSection(string Name, ulong Address, ulong Offset, ulong Size, ulong EntrySize);

/// <summary>What the binutils say about a file: the reference the ELF reader is compared to.</summary>
internal static partial class Binutils
{
    /// <summary>`nm -S --defined-only`: symbols with a size in a code section (t, T, and W for weak ones such as C++ inline functions).</summary>
    public static IReadOnlyList<ToolSymbol> NmCode(string path) =>
        Tool.Run("nm", "-S", "--defined-only", path)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length == 4 && fields[2] is "T" or "t" or "W")
            .Select(fields => new ToolSymbol(
                fields[3], Hex(fields[0]), Hex(fields[1]), fields[2] switch { "T" => 0, "W" => 1, _ => 2 }))
            .ToArray();

    /// <summary>The demangled names of the code symbols `nm -C --defined-only` lists (t, T, W), with or without a size.</summary>
    public static IReadOnlySet<string> NmDemangledCodeNames(string path) =>
        Tool.Run("nm", "-C", "--defined-only", path)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => NmLine().Match(line))
            .Where(match => match.Success && match.Groups[1].Value is "T" or "t" or "W")
            .Select(match => match.Groups[2].Value)
            .ToHashSet();

    /// <summary>The entries of one symbol table (".symtab" or ".dynsym") from `readelf -sW`, names without @version.</summary>
    public static IReadOnlyList<ToolSymbol> ReadelfSymbols(string path, string table)
    {
        var symbols = new List<ToolSymbol>();
        string? current = null;
        foreach (var line in Tool.Run("readelf", "-sW", path).Split('\n'))
        {
            if (SymbolTableHeader().Match(line) is { Success: true } header)
            {
                current = header.Groups[1].Value;
            }
            else if (current == table && SymbolLine().Match(line) is { Success: true } symbol)
            {
                var name = symbol.Groups[7].Value.Split('@', ' ')[0];
                var size = symbol.Groups[2].Value;
                symbols.Add(new ToolSymbol(
                    name,
                    Hex(symbol.Groups[1].Value),
                    size.StartsWith("0x", StringComparison.Ordinal) ? Hex(size[2..]) : ulong.Parse(size, CultureInfo.InvariantCulture),
                    symbol.Groups[4].Value switch { "GLOBAL" or "UNIQUE" => 0, "WEAK" => 1, _ => 2 },
                    symbol.Groups[3].Value,
                    symbol.Groups[5].Value,
                    symbol.Groups[6].Value));
            }
        }

        return symbols;
    }

    /// <summary>Section headers from `readelf -SW`, by section index.</summary>
    public static IReadOnlyDictionary<int, ToolSection> ReadelfSections(string path) =>
        Tool.Run("readelf", "-SW", path)
            .Split('\n')
            .Select(line => SectionLine().Match(line))
            .Where(match => match.Success)
            .ToDictionary(
                match => int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
                match => new ToolSection(
                    match.Groups[2].Value, Hex(match.Groups[3].Value), Hex(match.Groups[4].Value), Hex(match.Groups[5].Value), Hex(match.Groups[6].Value)));

    /// <summary>DT_NEEDED from `readelf -dW`.</summary>
    public static IReadOnlyList<string> ReadelfNeeded(string path) =>
        NeededLine().Matches(Tool.Run("readelf", "-dW", path)).Select(match => match.Groups[1].Value).ToArray();

    /// <summary>DT_SONAME from `readelf -dW`, or null.</summary>
    public static string? ReadelfSoName(string path) =>
        SoNameLine().Match(Tool.Run("readelf", "-dW", path)) is { Success: true } match ? match.Groups[1].Value : null;

    /// <summary>The `&lt;name@plt&gt;` labels objdump puts on PLT stubs, by address.</summary>
    public static IReadOnlyList<(ulong Address, string Name)> ObjdumpPltStubs(string path) =>
        PltLabel().Matches(Tool.Run("objdump", "-d", "--section=.plt", "--section=.plt.sec", "--section=.plt.got", path))
            .Select(match => (Hex(match.Groups[1].Value), match.Groups[2].Value))
            .OrderBy(stub => stub.Item1)
            .ToArray();

    /// <summary>
    /// The calls and jmps `objdump -d` shows through a RIP-relative GOT slot in .text, which it labels with the
    /// slot's import ("# 3fe0 &lt;rand@GLIBC_2.2.5&gt;"): address, import, and whether it is a call.
    /// </summary>
    public static IReadOnlyList<(ulong Address, string Import, bool IsCall)> ObjdumpGotCalls(string path) =>
        GotCallLine().Matches(Tool.Run("objdump", "-d", "--section=.text", path))
            .Select(match => (Hex(match.Groups[1].Value), match.Groups[3].Value, match.Groups[2].Value == "call"))
            .ToArray();

    /// <summary>The libraries `ldd` lists, in load order, without the vDSO.</summary>
    public static IReadOnlyList<string> Ldd(string path) =>
        Tool.Run("ldd", path)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Contains("=>", StringComparison.Ordinal) ? line[(line.IndexOf("=>", StringComparison.Ordinal) + 2)..] : line)
            .Select(line => line.Trim().Split(' ')[0])
            .Where(library => library.StartsWith('/'))
            .ToArray();

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    // address, type letter, name (a demangled name may hold spaces)
    [GeneratedRegex(@"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(call|jmp)\s+\*0x[0-9a-f]+\(%rip\)\s+# [0-9a-f]+ <([^@>+]+)@", RegexOptions.Multiline)]
    private static partial Regex GotCallLine();

    [GeneratedRegex(@"^[0-9a-f]+ (\w) (.+)$")]
    private static partial Regex NmLine();

    [GeneratedRegex(@"^Symbol table '(.+)' contains")]
    private static partial Regex SymbolTableHeader();

    // Num: Value Size Type Bind Vis Ndx Name
    [GeneratedRegex(@"^\s*\d+:\s+([0-9a-f]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")]
    private static partial Regex SymbolLine();

    // [Nr] Name Type Address Off Size ES
    [GeneratedRegex(@"^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]{2})\s")]
    private static partial Regex SectionLine();

    [GeneratedRegex(@"\(NEEDED\)\s+Shared library: \[(.+)\]")]
    private static partial Regex NeededLine();

    [GeneratedRegex(@"\(SONAME\)\s+Library soname: \[(.+)\]")]
    private static partial Regex SoNameLine();

    [GeneratedRegex(@"^([0-9a-f]+) <(.+)@plt>:$", RegexOptions.Multiline)]
    private static partial Regex PltLabel();
}
