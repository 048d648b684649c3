namespace Utrace.Native.Elf;

/// <summary>
/// The DWARF debug info of one ELF file, read on first use and then kept: a file without it costs
/// one look at its section table. Unreadable or malformed debug info reads as none: source lines
/// and prototypes are extras, never a reason for a trace to fail.
/// </summary>
internal sealed class DebugInfo
{
    private readonly Lazy<DwarfSections?> _sections;
    private readonly Lazy<List<DwarfUnit>?> _units;
    private readonly Lazy<DwarfLineTable?> _lines;
    private readonly Lazy<DwarfFunctions?> _functions;

    public DebugInfo(string path)
    {
        _sections = new(() => Quietly(() => DwarfSections.Load(path)));
        _units = new(() => _sections.Value is { } sections ? Quietly(() => DwarfUnit.ReadAll(sections)) : null);
        _lines = new(() => _units.Value is { } units ? Quietly(() => DwarfLineTable.Read(_sections.Value!, units)) : null);
        _functions = new(() => _units.Value is { } units ? Quietly(() => new DwarfFunctions(_sections.Value!, units)) : null);
    }

    /// <summary>True when the file, or a debug file of it, has DWARF.</summary>
    public bool Exists => _units.Value is { Count: > 0 };

    /// <summary>Where the code at the link-time <paramref name="address"/> comes from, as addr2line answers; null without debug info.</summary>
    public SourceLocation? SourceAt(ulong address) => _lines.Value?.Find(address);

    /// <summary>The prototype of the function at <paramref name="address"/>; null without debug info for it.</summary>
    public CPrototype? PrototypeAt(ulong address)
    {
        if (_functions.Value is not { } functions)
            return null;
        try
        {
            return functions.PrototypeAt(address);
        }
        catch (Exception ex) when (IsBadData(ex))
        {
            return null;
        }
    }

    private static T? Quietly<T>(Func<T?> read) where T : class
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (IsBadData(ex))
        {
            return null;
        }
    }

    // A malformed section ends a read with an index or a count out of range as often as with InvalidDataException.
    private static bool IsBadData(Exception ex) =>
        ex is InvalidDataException or IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentException or OverflowException
            || ex.GetType().Namespace?.StartsWith("ELFSharp", StringComparison.Ordinal) == true;
}
