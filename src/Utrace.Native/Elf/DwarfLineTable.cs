namespace Utrace.Native.Elf;

/// <summary>A function's place in its source: the file (as the line table names it, directory included) and the line.</summary>
public readonly record struct SourceLocation(string File, int Line)
{
    public override string ToString() => $"{File}:{Line}";
}

/// <summary>
/// The line tables of every unit (.debug_line, DWARF 2-5), merged into one array sorted by address: what
/// addr2line answers for an address is the row at or before it in its sequence.
/// </summary>
internal sealed class DwarfLineTable
{
    private const byte DW_LNS_copy = 1, DW_LNS_advance_pc = 2, DW_LNS_advance_line = 3, DW_LNS_set_file = 4, DW_LNS_const_add_pc = 8,
        DW_LNS_fixed_advance_pc = 9;
    private const byte DW_LNE_end_sequence = 1, DW_LNE_set_address = 2, DW_LNE_define_file = 3;
    private const ulong DW_LNCT_path = 1, DW_LNCT_directory_index = 2;

    /// <summary>One row; <see cref="File"/> is -1 for the end of a sequence, the first address past it.</summary>
    private readonly record struct Row(ulong Address, int File, int Line);

    private readonly Row[] _rows;
    private readonly List<string> _files;

    private DwarfLineTable(Row[] rows, List<string> files)
    {
        _rows = rows;
        _files = files;
    }

    /// <summary>The file and line the code at <paramref name="address"/> comes from; null when no sequence covers it.</summary>
    public SourceLocation? Find(ulong address)
    {
        int low = 0, high = _rows.Length - 1, found = -1;
        while (low <= high)
        {
            var middle = low + (high - low) / 2;
            if (_rows[middle].Address <= address)
            {
                found = middle;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }
        return found < 0 || _rows[found].File < 0 ? null : new SourceLocation(_files[_rows[found].File], _rows[found].Line);
    }

    public static DwarfLineTable Read(DwarfSections sections, IEnumerable<DwarfUnit> units)
    {
        var rows = new List<Row>();
        var files = new List<string>();
        var fileIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var read = new HashSet<ulong>();
        foreach (var unit in units)
        {
            if (unit.LineProgram is { } offset && offset < (ulong)sections.Line.Length && read.Add(offset))
                ReadProgram(sections, checked((int)offset), unit.CompilationDirectory, rows, name => FileId(name, files, fileIds));
        }
        // Sequences do not overlap; where one ends at the address the next begins, its end sorts first.
        var sorted = rows.ToArray();
        Array.Sort(sorted, static (x, y) => x.Address != y.Address ? x.Address.CompareTo(y.Address) : (y.File < 0).CompareTo(x.File < 0));
        return new DwarfLineTable(sorted, files);
    }

    private static int FileId(string name, List<string> files, Dictionary<string, int> ids)
    {
        if (!ids.TryGetValue(name, out var id))
        {
            ids[name] = id = files.Count;
            files.Add(name);
        }
        return id;
    }

    private static void ReadProgram(DwarfSections sections, int offset, string? compilationDirectory, List<Row> rows, Func<string, int> fileId)
    {
        var cursor = new DwarfCursor(sections.Line, offset);
        var (length, offsetSize) = cursor.UnitLength();
        var end = checked((int)(cursor.Position + length));
        var version = cursor.U16();
        var addressSize = 8;
        if (version >= 5)
        {
            addressSize = cursor.U8();
            cursor.U8(); // segment selector size
        }
        var headerLength = (long)cursor.Sized(offsetSize);
        var programStart = checked((int)(cursor.Position + headerLength));
        var minimumInstructionLength = cursor.U8();
        if (version >= 4)
            cursor.U8(); // maximum operations per instruction: 1 on x86
        cursor.U8(); // default_is_stmt: rows are looked up whatever it is, as addr2line does
        var lineBase = (sbyte)cursor.U8();
        var lineRange = cursor.U8();
        var opcodeBase = cursor.U8();
        var argumentCounts = new byte[opcodeBase];
        for (var i = 1; i < opcodeBase; i++)
            argumentCounts[i] = cursor.U8();

        var fileNames = version >= 5
            ? ReadVersion5Files(sections, ref cursor, offsetSize, compilationDirectory)
            : ReadVersion4Files(ref cursor, compilationDirectory);
        // DWARF 5 numbers files from 0, earlier versions from 1: file 1 is the default either way.
        var firstFile = version >= 5 ? 0 : 1;
        var fileIds = new int?[fileNames.Count];
        int IdOf(ulong file)
        {
            var index = (long)file - firstFile;
            if (index < 0 || index >= fileNames.Count)
                return fileId("??");
            return fileIds[index] ??= fileId(fileNames[(int)index]);
        }

        cursor.Position = programStart;
        ulong address = 0;
        ulong file = 1;
        long line = 1;
        var sequenceStart = rows.Count;
        void Emit()
        {
            var row = new Row(address, IdOf(file), (int)line);
            // As binutils does (its PR 4986), a row at the address of the row before it replaces that row.
            if (rows.Count > sequenceStart && rows[^1].Address == address)
                rows[^1] = row;
            else
                rows.Add(row);
        }

        while (cursor.Position < end)
        {
            var opcode = cursor.U8();
            if (opcode >= opcodeBase)
            {
                var adjusted = opcode - opcodeBase;
                address += (ulong)(adjusted / lineRange * minimumInstructionLength);
                line += lineBase + adjusted % lineRange;
                Emit();
                continue;
            }
            switch (opcode)
            {
                case 0:
                    var extendedLength = (long)cursor.Uleb();
                    var next = cursor.Position + extendedLength;
                    switch (extendedLength > 0 ? cursor.U8() : 0)
                    {
                        case DW_LNE_end_sequence:
                            rows.Add(new Row(address, -1, 0));
                            sequenceStart = rows.Count;
                            address = 0;
                            file = 1;
                            line = 1;
                            break;
                        case DW_LNE_set_address:
                            address = cursor.Sized(addressSize);
                            break;
                        case DW_LNE_define_file:
                            fileNames.Add(cursor.CString());
                            fileIds = [.. fileIds, null];
                            break;
                    }
                    cursor.Position = checked((int)next);
                    break;
                case DW_LNS_copy:
                    Emit();
                    break;
                case DW_LNS_advance_pc:
                    address += cursor.Uleb() * minimumInstructionLength;
                    break;
                case DW_LNS_advance_line:
                    line += cursor.Sleb();
                    break;
                case DW_LNS_set_file:
                    file = cursor.Uleb();
                    break;
                case DW_LNS_const_add_pc:
                    address += (ulong)((255 - opcodeBase) / lineRange * minimumInstructionLength);
                    break;
                case DW_LNS_fixed_advance_pc:
                    address += cursor.U16();
                    break;
                default:
                    // set_column, negate_stmt, basic_block, prologue_end... and opcodes of later versions: skip their operands.
                    for (var i = 0; i < argumentCounts[opcode]; i++)
                        cursor.Uleb();
                    break;
            }
        }
        // A program cut short leaves its last sequence open: it covers nothing past its last row.
        if (rows.Count > sequenceStart)
            rows.Add(new Row(rows[^1].Address + 1, -1, 0));
    }

    private static List<string> ReadVersion4Files(ref DwarfCursor cursor, string? compilationDirectory)
    {
        var directories = new List<string> { compilationDirectory ?? "" };
        while (cursor.CString() is { Length: > 0 } directory)
            directories.Add(directory);
        var files = new List<string>();
        while (cursor.CString() is { Length: > 0 } name)
        {
            var directory = cursor.Uleb();
            cursor.Uleb(); // modification time
            cursor.Uleb(); // length
            files.Add(Join(directory < (ulong)directories.Count ? directories[(int)directory] : "", name, compilationDirectory));
        }
        return files;
    }

    private static List<string> ReadVersion5Files(DwarfSections sections, ref DwarfCursor cursor, int offsetSize, string? compilationDirectory)
    {
        var directories = ReadEntries(sections, ref cursor, offsetSize).Select(entry => entry.Path).ToList();
        return ReadEntries(sections, ref cursor, offsetSize)
            .Select(entry => Join(entry.Directory < (ulong)directories.Count ? directories[(int)entry.Directory] : "", entry.Path, compilationDirectory))
            .ToList();
    }

    /// <summary>A DWARF 5 directory or file name table: each entry's path and directory index; other fields skipped.</summary>
    private static List<(string Path, ulong Directory)> ReadEntries(DwarfSections sections, ref DwarfCursor cursor, int offsetSize)
    {
        var formatCount = cursor.U8();
        var formats = new (ulong Content, ulong Form)[formatCount];
        for (var i = 0; i < formatCount; i++)
            formats[i] = (cursor.Uleb(), cursor.Uleb());
        var count = cursor.Uleb();
        var entries = new List<(string, ulong)>();
        for (ulong n = 0; n < count; n++)
        {
            var path = "";
            ulong directory = 0;
            foreach (var (content, form) in formats)
            {
                var value = LineFormValue(sections, ref cursor, form, offsetSize, out var text);
                if (content == DW_LNCT_path)
                    path = text ?? "";
                else if (content == DW_LNCT_directory_index)
                    directory = value;
            }
            entries.Add((path, directory));
        }
        return entries;
    }

    private static ulong LineFormValue(DwarfSections sections, ref DwarfCursor cursor, ulong form, int offsetSize, out string? text)
    {
        text = null;
        switch (form)
        {
            case 0x08: text = cursor.CString(); return 0; // DW_FORM_string
            case 0x1f: text = DwarfCursor.StringAt(sections.LineStr, cursor.Sized(offsetSize)); return 0; // DW_FORM_line_strp
            case 0x0e: text = DwarfCursor.StringAt(sections.Str, cursor.Sized(offsetSize)); return 0; // DW_FORM_strp
            case 0x0b: return cursor.U8(); // DW_FORM_data1
            case 0x05: return cursor.U16(); // DW_FORM_data2
            case 0x06: return cursor.U32(); // DW_FORM_data4
            case 0x07: return cursor.U64(); // DW_FORM_data8
            case 0x0f: return cursor.Uleb(); // DW_FORM_udata
            case 0x1e: cursor.Skip(16); return 0; // DW_FORM_data16 (an MD5)
            case 0x09: cursor.Skip((long)cursor.Uleb()); return 0; // DW_FORM_block
            default: throw new InvalidDataException($"DWARF: the line table has a file entry in form 0x{form:x}.");
        }
    }

    /// <summary>A file's path as binutils puts it together: a relative name under its directory, a relative directory under the compilation directory.</summary>
    private static string Join(string directory, string name, string? compilationDirectory)
    {
        if (name.StartsWith('/'))
            return name;
        if (directory.Length > 0 && !directory.StartsWith('/') && compilationDirectory is { Length: > 0 })
            directory = compilationDirectory + "/" + directory;
        return directory.Length == 0 ? name : directory + "/" + name;
    }
}
