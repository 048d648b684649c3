using System.Management.Automation;
using Utrace.Native.Recording;
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
        if (ExportCommand(path) is { } import)
        {
            ImportExport(path, import);
            return;
        }
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

    /// <summary>The cmdlet that reads <paramref name="path"/> when it is a text export of CallEvents; null for a trace file.</summary>
    private static string? ExportCommand(string path)
    {
        var head = new char[16];
        int read;
        try
        {
            using var reader = new StreamReader(path);
            read = reader.ReadBlock(head);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;   // TraceFile.Open reports it.
        }
        var text = new string(head, 0, read);
        if (text.StartsWith("#< CLIXML", StringComparison.Ordinal) || text.StartsWith("<Objs", StringComparison.Ordinal))
            return "Import-Clixml";
        return text.StartsWith('"') || text.StartsWith("#TYPE", StringComparison.Ordinal) ? "Import-Csv" : null;
    }

    /// <summary>
    /// Typed CallEvents from Export-Csv or Export-Clixml of CallEvents: Duration compares and sorts
    /// as a Duration again, Start keeps its nanoseconds. The whole file is read first (its rows share one function table).
    /// </summary>
    private void ImportExport(string path, string import)
    {
        var rows = InvokeCommand.InvokeScript($"{import} -LiteralPath $args[0]", false, System.Management.Automation.Runspaces.PipelineResultTypes.None, null, path);
        var calls = new List<ExportedCall>(rows.Count);
        try
        {
            foreach (var row in rows)
                calls.Add(ExportedCallReader.Read(row, calls.Count + 1));
        }
        catch (FormatException ex)
        {
            WriteError(ErrorRecords.Create(new InvalidDataException($"'{path}' is not an export of CallEvents: {ex.Message}.", ex), "InvalidCallEventExport",
                ErrorCategory.InvalidData, path, "Import-UTrace reads trace files and the Export-Csv or Export-Clixml output of CallEvents, with all their properties."));
            return;
        }
        foreach (var e in ExportedCall.ToCallEvents(calls))
            WriteObject(e);
    }

    private static string ErrorId(UtraceException ex) => ex.Kind switch
    {
        TraceErrorKind.NotFound => "TraceFileNotFound",
        TraceErrorKind.NotSupported => "TraceFormatTooNew",
        TraceErrorKind.InvalidData => "InvalidTraceFile",
        _ => "ImportTraceFailed",
    };
}
