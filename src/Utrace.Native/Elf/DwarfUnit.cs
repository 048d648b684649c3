namespace Utrace.Native.Elf;

/// <summary>
/// One compilation unit of .debug_info (DWARF 4 or 5): its abbreviations, the bases its DWARF 5
/// string and address indexes are read from, and where its DIEs and line program are.
/// </summary>
internal sealed class DwarfUnit
{
    private const ulong DW_TAG_compile_unit = 0x11;
    private const ulong DW_TAG_partial_unit = 0x3c;
    private const byte DW_UT_compile = 1;
    private const byte DW_UT_partial = 3;
    private const ulong DW_AT_stmt_list = 0x10;
    private const ulong DW_AT_comp_dir = 0x1b;
    private const ulong DW_AT_str_offsets_base = 0x72;
    private const ulong DW_AT_addr_base = 0x73;
    private const ulong DW_AT_GNU_addr_base = 0x2133;

    private DwarfUnit(int offset, int end, int version, int addressSize, int offsetSize, int firstDie, IReadOnlyDictionary<ulong, DwarfAbbreviation> abbreviations)
    {
        Offset = offset;
        End = end;
        Version = version;
        AddressSize = addressSize;
        OffsetSize = offsetSize;
        FirstDie = firstDie;
        Abbreviations = abbreviations;
    }

    public int Offset { get; }
    public int End { get; }
    public int Version { get; }
    public int AddressSize { get; }
    public int OffsetSize { get; }
    public int FirstDie { get; }
    public IReadOnlyDictionary<ulong, DwarfAbbreviation> Abbreviations { get; }

    /// <summary>DW_AT_str_offsets_base: where DW_FORM_strx indexes start in .debug_str_offsets (DWARF 5 default: past the 8-byte header).</summary>
    public ulong StringOffsetsBase { get; private set; } = 8;

    /// <summary>DW_AT_addr_base: where DW_FORM_addrx indexes start in .debug_addr.</summary>
    public ulong AddressBase { get; private set; } = 8;

    /// <summary>DW_AT_stmt_list: the offset of the unit's line program, or null.</summary>
    public ulong? LineProgram { get; private set; }

    /// <summary>DW_AT_comp_dir: the directory the unit was compiled in, which relative file names are under.</summary>
    public string? CompilationDirectory { get; private set; }

    /// <summary>Every compile and partial unit of .debug_info, with its root DIE's attributes read; type units are left out.</summary>
    public static List<DwarfUnit> ReadAll(DwarfSections sections)
    {
        var units = new List<DwarfUnit>();
        var abbreviationTables = new Dictionary<ulong, IReadOnlyDictionary<ulong, DwarfAbbreviation>>();
        var cursor = new DwarfCursor(sections.Info, 0);
        while (!cursor.AtEnd)
        {
            var offset = cursor.Position;
            var (length, offsetSize) = cursor.UnitLength();
            var end = checked((int)(cursor.Position + length));
            var version = cursor.U16();
            byte unitType = DW_UT_compile;
            ulong abbreviationOffset;
            int addressSize;
            if (version >= 5)
            {
                unitType = cursor.U8();
                addressSize = cursor.U8();
                abbreviationOffset = cursor.Sized(offsetSize);
            }
            else
            {
                abbreviationOffset = cursor.Sized(offsetSize);
                addressSize = cursor.U8();
            }
            if (version is >= 2 and <= 5 && unitType is DW_UT_compile or DW_UT_partial)
            {
                if (!abbreviationTables.TryGetValue(abbreviationOffset, out var abbreviations))
                    abbreviationTables[abbreviationOffset] = abbreviations = DwarfAbbreviation.ReadTable(sections.Abbrev, abbreviationOffset);
                var unit = new DwarfUnit(offset, end, version, addressSize, offsetSize, cursor.Position, abbreviations);
                unit.ReadRoot(sections);
                units.Add(unit);
            }
            cursor.Position = end;
        }
        return units;
    }

    private void ReadRoot(DwarfSections sections)
    {
        var reader = new DwarfDieReader(sections, this);
        var position = FirstDie;
        if (reader.Read(ref position) is not { } root || root.Abbreviation.Tag is not (DW_TAG_compile_unit or DW_TAG_partial_unit))
            return;
        // The bases first: the other attributes' strx and addrx forms are read from them.
        foreach (var attribute in root.Attributes)
        {
            if (attribute.Name == DW_AT_str_offsets_base)
                StringOffsetsBase = attribute.Value;
            else if (attribute.Name is DW_AT_addr_base or DW_AT_GNU_addr_base)
                AddressBase = attribute.Value;
        }
        foreach (var attribute in root.Attributes)
        {
            if (attribute.Name == DW_AT_stmt_list)
                LineProgram = attribute.Value;
            else if (attribute.Name == DW_AT_comp_dir)
                CompilationDirectory = reader.StringOf(attribute);
        }
    }
}

/// <summary>One abbreviation of .debug_abbrev: a DIE's tag, whether it has children, and its attributes' names and forms.</summary>
internal sealed record DwarfAbbreviation(ulong Tag, bool HasChildren, DwarfAttributeSpec[] Attributes)
{
    private const ulong DW_FORM_implicit_const = 0x21;

    public static IReadOnlyDictionary<ulong, DwarfAbbreviation> ReadTable(byte[] section, ulong offset)
    {
        var table = new Dictionary<ulong, DwarfAbbreviation>();
        var cursor = new DwarfCursor(section, checked((int)offset));
        while (cursor.Uleb() is var code and not 0)
        {
            var tag = cursor.Uleb();
            var hasChildren = cursor.U8() != 0;
            var attributes = new List<DwarfAttributeSpec>();
            while (true)
            {
                var name = cursor.Uleb();
                var form = cursor.Uleb();
                if (name == 0 && form == 0)
                    break;
                attributes.Add(new DwarfAttributeSpec(name, form, form == DW_FORM_implicit_const ? cursor.Sleb() : 0));
            }
            table[code] = new DwarfAbbreviation(tag, hasChildren, attributes.ToArray());
        }
        return table;
    }
}

internal readonly record struct DwarfAttributeSpec(ulong Name, ulong Form, long ImplicitConst);
