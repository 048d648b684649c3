using System.IO.Compression;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;

namespace Utrace.Native.Elf;

/// <summary>
/// The DWARF sections of an ELF file, or of its separate debug file (Debian's -dbgsym packages
/// install them under /usr/lib/debug, found by build id or .gnu_debuglink); zlib-compressed sections are inflated.
/// </summary>
internal sealed class DwarfSections
{
    private const ulong SHF_COMPRESSED = 0x800;
    private const uint ELFCOMPRESS_ZLIB = 1;
    private const int CompressionHeaderSize = 24; // Elf64_Chdr
    private const uint NT_GNU_BUILD_ID = 3;
    private const string DebugRoot = "/usr/lib/debug";

    private DwarfSections(byte[] info, byte[] abbrev, byte[] line, byte[] str, byte[] lineStr, byte[] strOffsets, byte[] addr)
    {
        Info = info;
        Abbrev = abbrev;
        Line = line;
        Str = str;
        LineStr = lineStr;
        StrOffsets = strOffsets;
        Addr = addr;
    }

    public byte[] Info { get; }
    public byte[] Abbrev { get; }
    public byte[] Line { get; }
    public byte[] Str { get; }
    public byte[] LineStr { get; }
    public byte[] StrOffsets { get; }
    public byte[] Addr { get; }

    /// <summary>The debug sections for the code of <paramref name="path"/>; null when neither it nor a debug file of it has them.</summary>
    public static DwarfSections? Load(string path)
    {
        using var elf = ELFReader.Load<ulong>(path);
        if (FromElf(elf) is { } own)
            return own;
        foreach (var candidate in SeparateDebugFiles(elf, path))
        {
            if (!File.Exists(candidate))
                continue;
            using var debug = ELFReader.Load<ulong>(candidate);
            if (FromElf(debug) is { } separate)
                return separate;
        }
        return null;
    }

    private static DwarfSections? FromElf(IELF elf)
    {
        if (Contents(elf, ".debug_info") is not { } info || Contents(elf, ".debug_abbrev") is not { } abbrev)
            return null;
        return new DwarfSections(info, abbrev, Contents(elf, ".debug_line") ?? [], Contents(elf, ".debug_str") ?? [],
            Contents(elf, ".debug_line_str") ?? [], Contents(elf, ".debug_str_offsets") ?? [], Contents(elf, ".debug_addr") ?? []);
    }

    /// <summary>A section's bytes, inflated when compressed; null when the file has none (or a stripped, NOBITS one).</summary>
    private static byte[]? Contents(IELF elf, string name)
    {
        if (!elf.TryGetSection(name, out var section) || section.Type == SectionType.NoBits)
            return null;
        var bytes = section.GetContents();
        if (((ulong)((Section<ulong>)section).Flags & SHF_COMPRESSED) == 0)
            return bytes;
        var header = new DwarfCursor(bytes, 0);
        // zstd (ELFCOMPRESS_ZSTD) has no inflater in .NET: such a file reads as one without debug info.
        if (header.U32() != ELFCOMPRESS_ZLIB)
            return null;
        header.U32();
        var size = checked((int)header.U64());
        using var zlib = new ZLibStream(new MemoryStream(bytes, CompressionHeaderSize, bytes.Length - CompressionHeaderSize), CompressionMode.Decompress);
        var inflated = new byte[size];
        zlib.ReadExactly(inflated);
        return inflated;
    }

    /// <summary>Where gdb looks for a stripped file's debug file: by build id, then by its .gnu_debuglink name.</summary>
    private static IEnumerable<string> SeparateDebugFiles(IELF elf, string path)
    {
        if (BuildId(elf) is { Length: > 1 } id)
        {
            var hex = Convert.ToHexString(id).ToLowerInvariant();
            yield return $"{DebugRoot}/.build-id/{hex[..2]}/{hex[2..]}.debug";
        }
        if (elf.TryGetSection(".gnu_debuglink", out var link))
        {
            var name = new DwarfCursor(link.GetContents(), 0).CString();
            var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
            yield return Path.Join(directory, name);
            yield return Path.Join(directory, ".debug", name);
            yield return Path.Join(DebugRoot, directory, name);
        }
    }

    private static byte[]? BuildId(IELF elf)
    {
        if (!elf.TryGetSection(".note.gnu.build-id", out var section))
            return null;
        var note = new DwarfCursor(section.GetContents(), 0);
        var nameSize = note.U32();
        var descriptorSize = note.U32();
        if (note.U32() != NT_GNU_BUILD_ID)
            return null;
        note.Skip((nameSize + 3) & ~3u);
        return note.Data.AsSpan(note.Position, (int)descriptorSize).ToArray();
    }
}
