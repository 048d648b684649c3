namespace Utrace.Native.Elf;

/// <summary>One probe-able place in one ELF file.</summary>
internal sealed class ElfFunction
{
    private string? _name;

    internal ElfFunction(string rawName, FunctionKind kind, ulong address, ulong fileOffset, ulong size)
    {
        RawName = rawName;
        Kind = kind;
        Address = address;
        FileOffset = fileOffset;
        Size = size;
    }

    /// <summary>The symbol as the ELF names it, without any @version.</summary>
    public string RawName { get; }

    /// <summary>The demangled name; equals <see cref="RawName"/> for C names.</summary>
    /// <remarks>Demangled on first use: a library has thousands of names and few are ever shown.</remarks>
    public string Name => _name ??= Demangler.Demangle(RawName);

    public FunctionKind Kind { get; }

    /// <summary>Link-time virtual address: st_value, or the PLT stub's address.</summary>
    public ulong Address { get; }

    /// <summary>Offset in the file, which is what a uprobe is attached at.</summary>
    public ulong FileOffset { get; }

    public ulong Size { get; }

    /// <summary>For a <see cref="FunctionKind.LibraryCall"/>, the library that provides the import, when known.</summary>
    public string? Library { get; internal set; }

    /// <summary>For a <see cref="FunctionKind.LibraryCall"/>, the places the program's own code calls it through its GOT slot, not its PLT stub.</summary>
    public IReadOnlyList<GotCallSite> CallSites { get; internal set; } = [];

    /// <summary>A library call without a PLT stub (-fno-plt code): <see cref="Address"/> is its first call site, and only its call sites are probed.</summary>
    public bool CalledOnlyThroughGot => Kind == FunctionKind.LibraryCall && Size == 0 && CallSites.Count > 0;

    public override string ToString() => $"{Name} ({Kind}, 0x{Address:x})";
}
