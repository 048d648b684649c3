using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>Lists the functions Start-UTrace would trace, with the same selection parameters.</summary>
[Cmdlet(VerbsCommon.Get, "UTraceFunction", DefaultParameterSetName = PathSet)]
[OutputType(typeof(FunctionInfo))]
public sealed class GetUTraceFunctionCommand : UTraceSelectionCommandBase
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const string ProcessSet = "ProcessId";

    /// <summary>Executables or libraries: paths (wildcards, ~, PSDrives), or a program name on PATH.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FilePath")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Executables or libraries, taken as written (no wildcards); binds the PSPath of Get-ChildItem's output.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>A running process; binds the Id of Get-Process's output.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ProcessSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "PID")]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int ProcessId { get; set; }

    // A process started a moment ago (Start-Process, then this) may not have mapped its libraries yet.
    private static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(2);

    // -Function patterns matched in any of the programs listed: one that none matched gets a warning at the end.
    private readonly HashSet<string> _matched = new(StringComparer.Ordinal);
    private bool _listed;

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ProcessSet)
        {
            List(() => FunctionCatalog.ForProcess(ProcessId, StartupWait));
            return;
        }
        var literal = ParameterSetName == LiteralPathSet;
        foreach (var path in literal ? LiteralPath : Path)
        {
            // A bare name with no file of that name here is a program on PATH, as for Start-UTrace -Command.
            if (!literal && !IsPath(path) && !WildcardPattern.ContainsWildcardCharacters(path) && !File.Exists(System.IO.Path.Combine(CurrentDirectory, path)))
            {
                List(() => LaunchTarget.FromFile(path, CurrentDirectory).LoadCatalog());
                continue;
            }
            var files = FileSystemPaths.ResolveExisting(this, path, literal, "Program", out var error);
            if (error is not null)
                WriteError(error);
            foreach (var file in files)
                List(() => LaunchTarget.FromFile(file, CurrentDirectory).LoadCatalog());
        }
    }

    protected override void EndProcessing()
    {
        if (_listed)
            WarnOfUnmatchedFunctions(_matched);
    }

    private void List(Func<FunctionCatalog> load)
    {
        try
        {
            var functions = load().Select(BuildSelection()).ToArray();
            ProbePlan.PlaceEntryProbes(functions);
            _matched.UnionWith(FunctionPatternsMatched(functions));
            _listed = true;
            WriteObject(functions, enumerateCollection: true);
        }
        catch (UtraceException ex)
        {
            WriteError(ErrorRecords.From(ex, "ReadFunctionsFailed"));
        }
    }
}
