namespace Utrace;

/// <summary>Where a probe-able function comes from.</summary>
public enum FunctionKind
{
    /// <summary>Code defined in the file, from .symtab (or .dynsym when stripped).</summary>
    Function,

    /// <summary>A PLT stub: the file's call into a function of another library.</summary>
    LibraryCall,

    /// <summary>A function a shared library exports to others.</summary>
    Export,
}
