namespace Utrace.Native.Elf;

/// <summary>
/// The functions .debug_info describes, by entry address (DW_AT_low_pc), and their prototypes: the
/// index is built in one pass over the DIEs, a prototype is read only for a function asked about.
/// </summary>
internal sealed class DwarfFunctions
{
    private const ulong DW_TAG_class_type = 0x02, DW_TAG_enumeration_type = 0x04, DW_TAG_formal_parameter = 0x05, DW_TAG_pointer_type = 0x0f,
        DW_TAG_reference_type = 0x10, DW_TAG_structure_type = 0x13, DW_TAG_typedef = 0x16, DW_TAG_union_type = 0x17,
        DW_TAG_unspecified_parameters = 0x18, DW_TAG_base_type = 0x24, DW_TAG_const_type = 0x26, DW_TAG_subprogram = 0x2e,
        DW_TAG_volatile_type = 0x35, DW_TAG_restrict_type = 0x37, DW_TAG_unspecified_type = 0x3b, DW_TAG_rvalue_reference_type = 0x42,
        DW_TAG_atomic_type = 0x47;
    private const ulong DW_AT_name = 0x03, DW_AT_byte_size = 0x0b, DW_AT_low_pc = 0x11, DW_AT_abstract_origin = 0x31,
        DW_AT_declaration = 0x3c, DW_AT_encoding = 0x3e, DW_AT_specification = 0x47, DW_AT_type = 0x49;
    private const ulong DW_ATE_boolean = 0x02, DW_ATE_complex_float = 0x03, DW_ATE_float = 0x04, DW_ATE_signed = 0x05,
        DW_ATE_signed_char = 0x06, DW_ATE_unsigned = 0x07, DW_ATE_unsigned_char = 0x08, DW_ATE_UTF = 0x10;
    private const int MaxTypeChain = 32;

    private readonly DwarfSections _sections;
    private readonly List<DwarfUnit> _units;
    private readonly Dictionary<ulong, int> _byAddress = [];

    public DwarfFunctions(DwarfSections sections, List<DwarfUnit> units)
    {
        _sections = sections;
        _units = units;
        foreach (var unit in units)
            Index(unit);
    }

    /// <summary>The prototype of the function whose code starts at <paramref name="address"/>; null when DWARF has none.</summary>
    public CPrototype? PrototypeAt(ulong address)
    {
        if (!_byAddress.TryGetValue(address, out var offset))
            return null;
        var (reader, die) = DieAt(offset);
        var returns = TypeOf(die) is { } type ? Describe(type, 0) : CType.Void;
        // An abstract origin or a declaration lists every parameter with its type; a concrete
        // instance may leave out the ones it optimized away.
        var declared = Referenced(die, DW_AT_abstract_origin) ?? Referenced(die, DW_AT_specification) ?? offset;
        return new CPrototype(Parameters(declared), returns);
    }

    private void Index(DwarfUnit unit)
    {
        var reader = new DwarfDieReader(_sections, unit);
        var position = unit.FirstDie;
        var depth = 0;
        while (position < unit.End)
        {
            if (reader.Read(ref position) is not { } die)
            {
                if (--depth <= 0)
                    break;
                continue;
            }
            if (die.Abbreviation.Tag == DW_TAG_subprogram && die.TryGet(DW_AT_low_pc, out var low) && DwarfDieReader.IsAddress(low.Form)
                && low.Value != 0 && !die.TryGet(DW_AT_declaration, out _))
                _byAddress.TryAdd(low.Value, die.Offset);
            if (die.Abbreviation.HasChildren)
                depth++;
        }
    }

    private List<CType> Parameters(int functionOffset)
    {
        var (reader, function) = DieAt(functionOffset);
        var parameters = new List<CType>();
        if (!function.Abbreviation.HasChildren)
            return parameters;
        var position = function.Offset;
        reader.Read(ref position);
        var parameterOffsets = new List<int>();
        while (reader.Read(ref position) is { } child)
        {
            if (child.Abbreviation.Tag == DW_TAG_unspecified_parameters)
                break;
            if (child.Abbreviation.Tag == DW_TAG_formal_parameter)
                parameterOffsets.Add(child.Offset);
            if (child.Abbreviation.HasChildren)
                reader.SkipChildren(ref position);
        }
        foreach (var parameter in parameterOffsets)
            parameters.Add(TypeOf(DieAt(parameter).Die) is { } type ? Describe(type, 0) : CType.Unknown);
        return parameters;
    }

    /// <summary>DW_AT_type of a DIE, or of the DIE it completes (its abstract origin, its declaration); null for void.</summary>
    private int? TypeOf(DwarfDie die)
    {
        for (var hops = 0; hops < MaxTypeChain; hops++)
        {
            if (die.TryGet(DW_AT_type, out var type))
                return DwarfDieReader.IsLocalReference(type.Form) ? (int)type.Value : -1;
            if ((Referenced(die, DW_AT_abstract_origin) ?? Referenced(die, DW_AT_specification)) is not { } origin)
                return null;
            die = DieAt(origin).Die;
        }
        return null;
    }

    private static int? Referenced(DwarfDie die, ulong attribute) =>
        die.TryGet(attribute, out var reference) && DwarfDieReader.IsLocalReference(reference.Form) ? (int)reference.Value : null;

    private CType Describe(int typeOffset, int depth)
    {
        if (typeOffset < 0 || depth > MaxTypeChain)
            return CType.Unknown;
        var (reader, die) = DieAt(typeOffset);
        var size = die.TryGet(DW_AT_byte_size, out var byteSize) ? (int)byteSize.Value : 0;
        switch (die.Abbreviation.Tag)
        {
            case DW_TAG_typedef or DW_TAG_const_type or DW_TAG_volatile_type or DW_TAG_restrict_type or DW_TAG_atomic_type:
                return TypeOf(die) is { } next ? Describe(next, depth + 1) : CType.Void;
            case DW_TAG_pointer_type:
                // Plain char, through typedefs and qualifiers, is text; signed and unsigned char more often hold bytes.
                return TypeOf(die) is { } pointee && Describe(pointee, depth + 1) is { Kind: CTypeKind.Character, Name: "char" }
                    ? new CType(CTypeKind.String, 8, false, "char *")
                    : new CType(CTypeKind.Pointer, 8, false, "pointer");
            case DW_TAG_reference_type or DW_TAG_rvalue_reference_type or DW_TAG_unspecified_type:
                return new CType(CTypeKind.Pointer, 8, false, "pointer");
            case DW_TAG_enumeration_type:
                return TypeOf(die) is { } underlying ? Describe(underlying, depth + 1) : new CType(CTypeKind.Integer, size, true, "enum");
            case DW_TAG_structure_type:
                return new CType(CTypeKind.Aggregate, size, false, "struct");
            case DW_TAG_union_type:
                return new CType(CTypeKind.Aggregate, size, false, "union");
            case DW_TAG_class_type:
                return new CType(CTypeKind.Aggregate, size, false, "class");
            case DW_TAG_base_type:
                var name = die.TryGet(DW_AT_name, out var nameAttribute) ? reader.StringOf(nameAttribute) ?? "?" : "?";
                var encoding = die.TryGet(DW_AT_encoding, out var encodingAttribute) ? encodingAttribute.Value : 0;
                return encoding switch
                {
                    DW_ATE_boolean => new CType(CTypeKind.Boolean, size, false, name),
                    DW_ATE_float or DW_ATE_complex_float => new CType(CTypeKind.Float, size, true, name),
                    DW_ATE_signed_char or DW_ATE_unsigned_char when size == 1 => new CType(CTypeKind.Character, 1, encoding == DW_ATE_signed_char, name),
                    DW_ATE_signed or DW_ATE_signed_char => new CType(CTypeKind.Integer, size, true, name),
                    DW_ATE_unsigned or DW_ATE_unsigned_char or DW_ATE_UTF => new CType(CTypeKind.Integer, size, false, name),
                    _ => new CType(CTypeKind.Unknown, size, false, name),
                };
            default:
                return CType.Unknown;
        }
    }

    /// <summary>The DIE at an offset of .debug_info, read with its unit's reader.</summary>
    private (DwarfDieReader Reader, DwarfDie Die) DieAt(int offset)
    {
        var unit = UnitAt(offset);
        var reader = new DwarfDieReader(_sections, unit);
        var position = offset;
        var die = reader.Read(ref position) ?? throw new InvalidDataException($"DWARF: a reference to 0x{offset:x} names no DIE.");
        return (reader, die);
    }

    private DwarfUnit UnitAt(int offset)
    {
        int low = 0, high = _units.Count - 1;
        while (low <= high)
        {
            var middle = low + (high - low) / 2;
            if (_units[middle].Offset > offset)
                high = middle - 1;
            else if (_units[middle].End <= offset)
                low = middle + 1;
            else
                return _units[middle];
        }
        throw new InvalidDataException($"DWARF: 0x{offset:x} is in no unit.");
    }
}
