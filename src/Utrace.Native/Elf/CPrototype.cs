namespace Utrace.Native.Elf;

/// <summary>What a C type is to a call on x86-64: which registers carry it, and how its value reads.</summary>
internal enum CTypeKind
{
    Void,
    /// <summary>An integer or enum of <see cref="CType.Size"/> bytes: one general-purpose register.</summary>
    Integer,
    Boolean,
    /// <summary>A one-byte character type.</summary>
    Character,
    /// <summary>A pointer or C++ reference.</summary>
    Pointer,
    /// <summary>A pointer to plain char: a C string.</summary>
    String,
    /// <summary>float, double, long double, complex: SSE registers or the stack, never a general-purpose register.</summary>
    Float,
    /// <summary>A struct, union or class by value: registers or the stack depending on its layout.</summary>
    Aggregate,
    /// <summary>A type whose registers this reader does not know (__int128, a pointer to member, no type at all).</summary>
    Unknown,
}

/// <summary>A parameter's or return value's type as a call passes it; <see cref="Name"/> is what a placeholder shows (double, struct).</summary>
internal readonly record struct CType(CTypeKind Kind, int Size, bool Signed, string Name)
{
    public static readonly CType Void = new(CTypeKind.Void, 0, false, "void");
    public static readonly CType Unknown = new(CTypeKind.Unknown, 0, false, "?");
}

/// <summary>A function's fixed parameters and return type, from DWARF.</summary>
internal sealed record CPrototype(IReadOnlyList<CType> Parameters, CType Returns);
