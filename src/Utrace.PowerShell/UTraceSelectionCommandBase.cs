using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>The function-selection parameters shared by Start-UTrace and Get-UTraceFunction.</summary>
public abstract class UTraceSelectionCommandBase : PSCmdlet
{
    /// <summary>Wildcard patterns on the demangled or raw name: only matching functions are traced.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FunctionNameCompleter))]
    public string[]? Function { get; set; }

    /// <summary>Wildcard patterns on the demangled or raw name: matching functions are not traced.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FunctionNameCompleter))]
    public string[]? ExcludeFunction { get; set; }

    /// <summary>Wildcard patterns on the library that provides an imported function: only those library calls are traced.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LibraryNameCompleter))]
    public string[]? Library { get; set; }

    /// <summary>Wildcard patterns on library file names: calls into those libraries are not traced.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LibraryNameCompleter))]
    public string[]? ExcludeLibrary { get; set; }

    /// <summary>Wildcard patterns on library file names: also trace the exported functions defined in those libraries.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LibraryNameCompleter))]
    public string[]? NestLibrary { get; set; }

    /// <summary>The selection, scoped to the calls inside the functions <paramref name="within"/> matches (Start-UTrace -Within).</summary>
    /// <exception cref="UtraceException">A pattern is not a valid wildcard.</exception>
    internal FunctionSelection BuildSelection(string[]? within = null) => new()
    {
        Within = Matcher(within, "Within"),
        Include = Matcher(Function, nameof(Function)),
        Exclude = Matcher(ExcludeFunction, nameof(ExcludeFunction)),
        IncludeLibrary = Matcher(Library, nameof(Library)),
        ExcludeLibrary = Matcher(ExcludeLibrary, nameof(ExcludeLibrary)),
        NestLibrary = Matcher(NestLibrary, nameof(NestLibrary)),
    };

    /// <summary>The -Function patterns that match one of <paramref name="selected"/>.</summary>
    internal IEnumerable<string> FunctionPatternsMatched(IReadOnlyCollection<FunctionInfo> selected) =>
        (Function ?? []).Where(pattern =>
        {
            var compiled = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            return selected.Any(f => compiled.IsMatch(f.Name) || compiled.IsMatch(f.RawName));
        });

    /// <summary>
    /// Warns of each -Function pattern not in <paramref name="matched"/>: a C++ name includes its
    /// parameters (middle(int)), so 'middle' alone finds nothing, silently.
    /// </summary>
    internal void WarnOfUnmatchedFunctions(IEnumerable<string> matched)
    {
        foreach (var pattern in (Function ?? []).Except(matched))
            WriteWarning($"-Function '{pattern}' matches no function here; a C++ name includes its parameters, as in {pattern}(int): '{pattern}*' matches those. Get-UTraceFunction lists the names.");
    }

    /// <summary>The file-system location PowerShell is in (not the process's working directory).</summary>
    internal string CurrentDirectory => SessionState.Path.CurrentFileSystemLocation.ProviderPath;

    /// <summary>
    /// A program word as the file system knows it: `~/x` and `Drive:/x` are resolved through
    /// PowerShell's provider; `./x` and `/x` already are file-system paths (from the current
    /// location), and a bare name is left for the PATH lookup.
    /// </summary>
    /// <exception cref="ErrorRecordException">The path is on another provider, or its drive does not exist.</exception>
    internal string ProgramPath(string word) =>
        word.StartsWith('~') || DriveQualified.IsMatch(word) ? FileSystemPaths.ResolveNew(this, word, "Program") : word;

    /// <summary>A word that names a file rather than a program on PATH.</summary>
    internal static bool IsPath(string word) =>
        word.Contains('/') || word.StartsWith('~') || DriveQualified.IsMatch(word);

    private static readonly System.Text.RegularExpressions.Regex DriveQualified = new(@"^[\w.-]+:");

    private static Func<string, bool>? Matcher(string[]? patterns, string parameterName)
    {
        if (patterns is null || patterns.Length == 0)
            return null;
        var compiled = Array.ConvertAll(patterns, p => Compile(p, parameterName));
        return name => Array.Exists(compiled, p => p.IsMatch(name));
    }

    // WildcardPattern checks its syntax only on the first match: try one now, before anything runs.
    internal static WildcardPattern Compile(string pattern, string parameterName)
    {
        var compiled = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
        try
        {
            compiled.IsMatch("");
            return compiled;
        }
        catch (WildcardPatternException ex)
        {
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"-{parameterName} '{pattern}' is not a valid wildcard pattern: a [ must be closed by a ] (a set such as [abc], or a range such as [a-z]).",
                "To match [ or ] literally, escape it with a backtick (`[) or enclose it in brackets ([[]).",
                pattern, inner: ex, errorId: "InvalidWildcardPattern");
        }
    }
}
