namespace Utrace.Native.Elf;

/// <summary>An attribute of a DIE: its name, form, and value (an address, a number, an absolute .debug_info offset for a reference, or where its string is).</summary>
internal readonly record struct DwarfAttribute(ulong Name, ulong Form, ulong Value);

/// <summary>A DIE as read: where it is, its abbreviation, and its attributes (in the reader's buffer: valid until the reader's next read).</summary>
internal readonly record struct DwarfDie(int Offset, DwarfAbbreviation Abbreviation, ArraySegment<DwarfAttribute> Attributes)
{
    public bool TryGet(ulong name, out DwarfAttribute attribute)
    {
        foreach (var candidate in Attributes)
        {
            if (candidate.Name == name)
            {
                attribute = candidate;
                return true;
            }
        }
        attribute = default;
        return false;
    }
}

/// <summary>Reads the DIEs of one unit, every DWARF 2-5 form (GNU extensions included) decoded or skipped.</summary>
internal sealed class DwarfDieReader(DwarfSections sections, DwarfUnit unit)
{
    private const ulong DW_FORM_addr = 0x01, DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04, DW_FORM_data2 = 0x05, DW_FORM_data4 = 0x06,
        DW_FORM_data8 = 0x07, DW_FORM_string = 0x08, DW_FORM_block = 0x09, DW_FORM_block1 = 0x0a, DW_FORM_data1 = 0x0b, DW_FORM_flag = 0x0c,
        DW_FORM_sdata = 0x0d, DW_FORM_strp = 0x0e, DW_FORM_udata = 0x0f, DW_FORM_ref_addr = 0x10, DW_FORM_ref1 = 0x11, DW_FORM_ref2 = 0x12,
        DW_FORM_ref4 = 0x13, DW_FORM_ref8 = 0x14, DW_FORM_ref_udata = 0x15, DW_FORM_indirect = 0x16, DW_FORM_sec_offset = 0x17,
        DW_FORM_exprloc = 0x18, DW_FORM_flag_present = 0x19, DW_FORM_strx = 0x1a, DW_FORM_addrx = 0x1b, DW_FORM_ref_sup4 = 0x1c,
        DW_FORM_strp_sup = 0x1d, DW_FORM_data16 = 0x1e, DW_FORM_line_strp = 0x1f, DW_FORM_ref_sig8 = 0x20, DW_FORM_implicit_const = 0x21,
        DW_FORM_loclistx = 0x22, DW_FORM_rnglistx = 0x23, DW_FORM_ref_sup8 = 0x24, DW_FORM_strx1 = 0x25, DW_FORM_strx2 = 0x26,
        DW_FORM_strx3 = 0x27, DW_FORM_strx4 = 0x28, DW_FORM_addrx1 = 0x29, DW_FORM_addrx2 = 0x2a, DW_FORM_addrx3 = 0x2b, DW_FORM_addrx4 = 0x2c,
        DW_FORM_GNU_addr_index = 0x1f01, DW_FORM_GNU_str_index = 0x1f02, DW_FORM_GNU_ref_alt = 0x1f20, DW_FORM_GNU_strp_alt = 0x1f21;

    private DwarfAttribute[] _buffer = new DwarfAttribute[16];

    /// <summary>The DIE at <paramref name="position"/>, which moves past it; null for the 0 that ends a list of children.</summary>
    public DwarfDie? Read(ref int position)
    {
        var cursor = new DwarfCursor(sections.Info, position);
        var offset = position;
        var code = cursor.Uleb();
        if (code == 0)
        {
            position = cursor.Position;
            return null;
        }
        if (!unit.Abbreviations.TryGetValue(code, out var abbreviation))
            throw new InvalidDataException($"DWARF: the DIE at 0x{offset:x} has abbreviation {code}, which its unit does not define.");
        var specs = abbreviation.Attributes;
        if (_buffer.Length < specs.Length)
            _buffer = new DwarfAttribute[specs.Length];
        for (var i = 0; i < specs.Length; i++)
            _buffer[i] = new DwarfAttribute(specs[i].Name, specs[i].Form, ReadValue(ref cursor, specs[i].Form, specs[i].ImplicitConst));
        position = cursor.Position;
        return new DwarfDie(offset, abbreviation, new ArraySegment<DwarfAttribute>(_buffer, 0, specs.Length));
    }

    /// <summary>Moves <paramref name="position"/> past the children of a DIE that has them.</summary>
    public void SkipChildren(ref int position)
    {
        while (Read(ref position) is { } child)
        {
            if (child.Abbreviation.HasChildren)
                SkipChildren(ref position);
        }
    }

    /// <summary>The text of a string attribute; null when its form is not a string this reader has (a supplementary file's).</summary>
    public string? StringOf(DwarfAttribute attribute) => attribute.Form switch
    {
        DW_FORM_string => DwarfCursor.StringAt(sections.Info, attribute.Value),
        DW_FORM_strp => DwarfCursor.StringAt(sections.Str, attribute.Value),
        DW_FORM_line_strp => DwarfCursor.StringAt(sections.LineStr, attribute.Value),
        DW_FORM_strx or DW_FORM_strx1 or DW_FORM_strx2 or DW_FORM_strx3 or DW_FORM_strx4 or DW_FORM_GNU_str_index =>
            DwarfCursor.StringAt(sections.Str, new DwarfCursor(sections.StrOffsets, checked((int)(unit.StringOffsetsBase + attribute.Value * (ulong)unit.OffsetSize))).Sized(unit.OffsetSize)),
        _ => null,
    };

    /// <summary>True for the forms whose value is a DIE of this file's .debug_info (not a type unit's, nor a supplementary file's).</summary>
    public static bool IsLocalReference(ulong form) => form is DW_FORM_ref1 or DW_FORM_ref2 or DW_FORM_ref4 or DW_FORM_ref8 or DW_FORM_ref_udata or DW_FORM_ref_addr;

    /// <summary>True for the forms of an address (DW_AT_low_pc); DW_AT_high_pc in another form is a length.</summary>
    public static bool IsAddress(ulong form) => form is DW_FORM_addr or DW_FORM_addrx or DW_FORM_addrx1 or DW_FORM_addrx2 or DW_FORM_addrx3
        or DW_FORM_addrx4 or DW_FORM_GNU_addr_index;

    private ulong ReadValue(ref DwarfCursor cursor, ulong form, long implicitConst)
    {
        switch (form)
        {
            case DW_FORM_addr: return cursor.Sized(unit.AddressSize);
            case DW_FORM_addrx or DW_FORM_GNU_addr_index: return AddressAt(cursor.Uleb());
            case DW_FORM_addrx1: return AddressAt(cursor.U8());
            case DW_FORM_addrx2: return AddressAt(cursor.U16());
            case DW_FORM_addrx3: return AddressAt(cursor.U24());
            case DW_FORM_addrx4: return AddressAt(cursor.U32());
            case DW_FORM_data1 or DW_FORM_flag or DW_FORM_strx1: return cursor.U8();
            case DW_FORM_ref1: return (ulong)unit.Offset + cursor.U8();
            case DW_FORM_data2 or DW_FORM_strx2: return cursor.U16();
            case DW_FORM_ref2: return (ulong)unit.Offset + cursor.U16();
            case DW_FORM_strx3: return cursor.U24();
            case DW_FORM_data4 or DW_FORM_strx4 or DW_FORM_ref_sup4: return cursor.U32();
            case DW_FORM_ref4: return (ulong)unit.Offset + cursor.U32();
            case DW_FORM_data8 or DW_FORM_ref_sig8 or DW_FORM_ref_sup8: return cursor.U64();
            case DW_FORM_ref8: return (ulong)unit.Offset + cursor.U64();
            case DW_FORM_data16: cursor.Skip(16); return 0;
            case DW_FORM_udata or DW_FORM_strx or DW_FORM_GNU_str_index or DW_FORM_loclistx or DW_FORM_rnglistx: return cursor.Uleb();
            case DW_FORM_ref_udata: return (ulong)unit.Offset + cursor.Uleb();
            case DW_FORM_sdata: return (ulong)cursor.Sleb();
            case DW_FORM_implicit_const: return (ulong)implicitConst;
            case DW_FORM_flag_present: return 1;
            case DW_FORM_strp or DW_FORM_line_strp or DW_FORM_sec_offset or DW_FORM_strp_sup or DW_FORM_GNU_strp_alt or DW_FORM_GNU_ref_alt:
                return cursor.Sized(unit.OffsetSize);
            // DWARF 2 wrote a reference to another unit as an address.
            case DW_FORM_ref_addr: return cursor.Sized(unit.Version <= 2 ? unit.AddressSize : unit.OffsetSize);
            case DW_FORM_string:
                var start = cursor.Position;
                cursor.CString();
                return (ulong)start;
            case DW_FORM_block1: cursor.Skip(cursor.U8()); return 0;
            case DW_FORM_block2: cursor.Skip(cursor.U16()); return 0;
            case DW_FORM_block4: cursor.Skip(cursor.U32()); return 0;
            case DW_FORM_block or DW_FORM_exprloc: cursor.Skip((long)cursor.Uleb()); return 0;
            case DW_FORM_indirect: return ReadValue(ref cursor, cursor.Uleb(), implicitConst);
            default: throw new InvalidDataException($"DWARF: unknown attribute form 0x{form:x}.");
        }
    }

    private ulong AddressAt(ulong index) =>
        new DwarfCursor(sections.Addr, checked((int)(unit.AddressBase + index * (ulong)unit.AddressSize))).Sized(unit.AddressSize);
}
