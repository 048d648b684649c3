using System.Management.Automation;
using Utrace.Native.Tracing;

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
        foreach (var path in ParameterSetName == PathSet ? Path : LiteralPath)
        {
            foreach (var file in Resolve(path, literal: ParameterSetName == LiteralPathSet))
                Import(file);
        }
    }

    /// <summary>The file-system paths <paramref name="path"/> names; an error (and none) when it names nothing.</summary>
    private IReadOnlyList<string> Resolve(string path, bool literal)
    {
        var files = FileSystemPaths.ResolveExisting(this, path, literal, "TraceFile", out var error);
        if (error is not null)
            WriteError(error);
        return files;
    }

    private void Import(string path)
    {
        TraceFile file;
        try
        {
            file = TraceFile.Open(path);
        }
        catch (UtraceException ex)
        {
            WriteError(ErrorRecords.From(ex, ErrorId(ex)));
            return;
        }
        using (file)
        {
            long count = 0;
            try
            {
                foreach (var e in file.ReadEvents())
                {
                    WriteObject(e);
                    count++;
                }
            }
            catch (UtraceException ex)
            {
                WriteError(ErrorRecords.From(ex, ErrorId(ex)));
                return;
            }
            if (file.WasCut)
                WriteWarning($"The trace file '{path}' was cut short (its recording was killed, ran out of disk, or is still running): " +
                    $"{count} events were read, up to its last complete record batch.");
        }
    }

    private static string ErrorId(UtraceException ex) => ex.Kind switch
    {
        TraceErrorKind.NotFound => "TraceFileNotFound",
        TraceErrorKind.NotSupported => "TraceFormatTooNew",
        TraceErrorKind.InvalidData => "InvalidTraceFile",
        _ => "ImportTraceFailed",
    };
}
