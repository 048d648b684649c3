namespace Utrace.Native.Tracing;

/// <summary>
/// Which functions to trace. The engine takes predicates so that the caller decides the
/// pattern language (the cmdlets use PowerShell wildcards). A null predicate selects all.
/// </summary>
public sealed class FunctionSelection
{
    /// <summary>Keeps a function when it matches its demangled or its raw name.</summary>
    public Func<string, bool>? Include { get; init; }

    /// <summary>Drops a function when it matches its demangled or its raw name.</summary>
    public Func<string, bool>? Exclude { get; init; }

    /// <summary>Keeps a library call when it matches the providing library's file name.</summary>
    public Func<string, bool>? IncludeLibrary { get; init; }

    /// <summary>Drops a library call when it matches the providing library's file name.</summary>
    public Func<string, bool>? ExcludeLibrary { get; init; }

    /// <summary>Also traces the exported functions of the shared libraries whose file name matches.</summary>
    public Func<string, bool>? NestLibrary { get; init; }

    /// <summary>
    /// Scopes the trace: only the calls made while a matching function's call is on the thread's stack (that
    /// call included) are reported. Matching functions are traced whatever the other predicates say.
    /// </summary>
    public Func<string, bool>? Within { get; init; }

    public static FunctionSelection All { get; } = new();

    /// <summary>A function whose calls open the -Within scope.</summary>
    internal bool Scopes(FunctionInfo function) => Within is not null && (Within(function.Name) || Within(function.RawName));

    internal bool Accepts(FunctionInfo function)
    {
        if (Scopes(function))
            return true;
        if (Include is not null && !Include(function.Name) && !Include(function.RawName))
            return false;
        if (Exclude is not null && (Exclude(function.Name) || Exclude(function.RawName)))
            return false;
        if (function.Kind != FunctionKind.LibraryCall)
            return true;
        if (IncludeLibrary is not null && !IncludeLibrary(function.Module))
            return false;
        return ExcludeLibrary is null || !ExcludeLibrary(function.Module);
    }
}
