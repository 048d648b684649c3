namespace Utrace;

/// <summary>How a captured register is read and typed (a word of a capture spec).</summary>
public enum CaptureType
{
    /// <summary>"_": the argument at this position is not captured.</summary>
    Skip,
    /// <summary>"int": a 32-bit signed integer (Int32).</summary>
    Int,
    /// <summary>"uint": a 32-bit unsigned integer (UInt32).</summary>
    UInt,
    /// <summary>"long": a 64-bit signed integer (Int64).</summary>
    Long,
    /// <summary>"ulong": a 64-bit unsigned integer (UInt64).</summary>
    ULong,
    /// <summary>"short": a 16-bit signed integer (Int16).</summary>
    Short,
    /// <summary>"ushort": a 16-bit unsigned integer (UInt16).</summary>
    UShort,
    /// <summary>"char": one byte, as a Char.</summary>
    Char,
    /// <summary>"bool": the low byte, non-zero is true.</summary>
    Bool,
    /// <summary>"ptr": an address, shown in hex (<see cref="Pointer"/>).</summary>
    Pointer,
    /// <summary>"string": a NUL-terminated string, read in the kernel up to 255 bytes.</summary>
    String,
    /// <summary>
    /// "&lt;double&gt;": a parameter Utrace does not read (a floating-point value, a struct by value, or one
    /// after such a struct), shown by its C type in angle brackets; it takes no argument register.
    /// </summary>
    Unread,
}
