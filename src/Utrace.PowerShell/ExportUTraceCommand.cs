using System.Management.Automation;
using Utrace.Native.Recording;

namespace Utrace.PowerShell;

/// <summary>
/// Writes calls from the pipeline (a live trace, Import-UTrace's, filtered, deserialized) to a trace file that
/// Import-UTrace and Arrow readers open, or to a Parquet file (-Format Parquet, or a path ending in .parquet) with
/// the same columns, for DuckDB, pandas, polars or Spark. Like Export-Csv, an existing file is replaced unless -NoClobber.
/// </summary>
[Cmdlet(VerbsData.Export, "UTrace", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
public sealed class ExportUTraceCommand : PSCmdlet, IDisposable
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    private CallInput? _input;
    private CallHandler? _add;
    private Action<string>? _readFile;
    private TraceExport? _export;

    /// <summary>A CallEvent (or a deserialized one, or a trace file of Get-ChildItem), usually from the pipeline.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [AllowNull]
    public PSObject? InputObject { get; set; }

    /// <summary>The file to write (usually *.arrows, or *.parquet).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The file to write, taken as written (no wildcards).</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = "";

    /// <summary>Arrow (a trace file) or Parquet; by default Parquet for a path ending in .parquet, else Arrow.</summary>
    [Parameter]
    public TraceExportFormat? Format { get; set; }

    /// <summary>Replaces a file even if it is read-only (as Export-Csv does); never a folder, a device or a program.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Refuses to replace a file that exists.</summary>
    [Parameter]
    [Alias("NoOverwrite")]
    public SwitchParameter NoClobber { get; set; }

    protected override void BeginProcessing()
    {
        var given = ParameterSetName == LiteralPathSet ? LiteralPath : Path;
        string path;
        try
        {
            path = FileSystemPaths.ResolveNew(this, given, ParameterSetName);
        }
        catch (ErrorRecordException ex)
        {
            ThrowTerminatingError(ex.Record);
            return;
        }
        if (File.Exists(path))
        {
            if (NoClobber)
                ThrowTerminatingError(ErrorRecords.Create(new IOException($"The file '{path}' already exists."), "NoClobber", ErrorCategory.ResourceExists, path,
                    "Leave out -NoClobber to replace it, or give a new path."));
            if (Force)
                File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserWrite);
        }
        if (!ShouldProcess(path, "Export-UTrace"))
            return;
        var format = Format ?? (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? TraceExportFormat.Parquet : TraceExportFormat.Arrow);
        try
        {
            _export = TraceExport.Create(path, format, "-" + ParameterSetName);
        }
        catch (UtraceException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex, "ExportNotWritten"));
        }
        _input = new CallInput(this);
        _add = _export!.Add;
        _readFile = file => new TraceFileInput(this).Read(file, literal: true, e => _export.Add(e.Call));
    }

    protected override void ProcessRecord() => _input?.Read(InputObject, _add!, _readFile!);

    protected override void EndProcessing()
    {
        try
        {
            _export?.Complete();
        }
        catch (UtraceException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex, "ExportNotWritten"));
        }
    }

    // PowerShell calls this when the pipeline ends, stopped or failed too: the file is closed, with what was written.
    public void Dispose() => _export?.Dispose();
}
