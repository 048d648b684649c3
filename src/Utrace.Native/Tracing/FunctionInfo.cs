using Utrace.Native.Elf;

namespace Utrace;

/// <summary>A function that can be traced: where it lives and what the probe is placed on.</summary>
public sealed class FunctionInfo
{
    internal FunctionInfo(ElfFunction function, string module, string path)
    {
        Name = function.Name;
        RawName = function.RawName;
        Kind = function.Kind;
        Offset = function.FileOffset;
        Size = function.Size;
        Module = module;
        Path = path;
    }

    /// <summary>Demangled name.</summary>
    public string Name { get; }

    /// <summary>The name in the ELF symbol table.</summary>
    public string RawName { get; }

    /// <summary>File name of the ELF the function lives in; for a library call, the library that defines it when known.</summary>
    public string Module { get; }

    public FunctionKind Kind { get; }

    /// <summary>File offset of the probed instruction in <see cref="Path"/>.</summary>
    public ulong Offset { get; }

    public ulong Size { get; }

    /// <summary>The file the probe is attached to.</summary>
    public string Path { get; }

    public override string ToString() => Name;
}
