using System.Management.Automation;

namespace Utrace.PowerShell;

/// <summary>
/// Streams the CallEvents of trace files written by Start-UTrace -OutFile, one record batch
/// at a time: memory does not grow with the file.
/// </summary>
[Cmdlet(VerbsData.Import, "UTrace", DefaultParameterSetName = PathSet)]
[OutputType(typeof(CallEvent))]
public sealed class ImportUTraceCommand : PSCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>Trace files; wildcards allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Trace files, taken as written (no wildcards); binds the PSPath of Get-ChildItem's output.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    protected override void ProcessRecord()
    {
        var input = new TraceFileInput(this);
        foreach (var path in ParameterSetName == PathSet ? Path : LiteralPath)
            input.Read(path, literal: ParameterSetName == LiteralPathSet, WriteObject);
    }
}
