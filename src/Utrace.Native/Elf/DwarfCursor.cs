using System.Buffers.Binary;
using System.Text;

namespace Utrace.Native.Elf;

/// <summary>Reads the little-endian numbers, LEB128s and C strings of a DWARF section, from a position on.</summary>
internal struct DwarfCursor(byte[] data, int position)
{
    public readonly byte[] Data = data;
    public int Position = position;

    public readonly bool AtEnd => Position >= Data.Length;

    public byte U8() => Data[Position++];

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U24() => (uint)(Data[Position++] | Data[Position++] << 8 | Data[Position++] << 16);

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>A number of <paramref name="size"/> bytes (1, 2, 4 or 8): an address, or an offset of the 32- or 64-bit DWARF format.</summary>
    public ulong Sized(int size) => size switch
    {
        1 => U8(),
        2 => U16(),
        4 => U32(),
        8 => U64(),
        _ => throw new InvalidDataException($"DWARF: a {size}-byte number."),
    };

    public ulong Uleb()
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = Data[Position++];
            if (shift < 64)
                value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
                return value;
        }
    }

    public long Sleb()
    {
        long value = 0;
        var shift = 0;
        byte b;
        do
        {
            b = Data[Position++];
            if (shift < 64)
                value |= (long)(b & 0x7f) << shift;
            shift += 7;
        }
        while (b >= 0x80);
        return shift < 64 && (b & 0x40) != 0 ? value | -1L << shift : value;
    }

    /// <summary>A unit's length, and the size of its offsets: 8 in the 64-bit DWARF format, else 4.</summary>
    public (long Length, int OffsetSize) UnitLength()
    {
        var length = U32();
        return length == 0xffffffff ? ((long)U64(), 8) : (length, 4);
    }

    public string CString()
    {
        var end = Array.IndexOf(Data, (byte)0, Position);
        if (end < 0)
            throw new InvalidDataException("DWARF: a string without its NUL.");
        var text = Encoding.UTF8.GetString(Data, Position, end - Position);
        Position = end + 1;
        return text;
    }

    public void Skip(long count) => Position = checked((int)(Position + count));

    /// <summary>The NUL-terminated string at <paramref name="offset"/> of a string section.</summary>
    public static string StringAt(byte[] section, ulong offset) => new DwarfCursor(section, checked((int)offset)).CString();

    private ReadOnlySpan<byte> Take(int count)
    {
        var span = Data.AsSpan(Position, count);
        Position += count;
        return span;
    }
}
