using System.Management.Automation;
using Utrace.Native.Query;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// Runs a SQL query (DuckDB's dialect) over trace files and Parquet exports, seen as the view
/// <c>calls</c>, and streams the result's rows as objects, one property per column.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "UTraceQuery", DefaultParameterSetName = PathSet)]
[OutputType(typeof(PSObject))]
public sealed class InvokeUTraceQueryCommand : PSCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    private readonly List<string> _files = [];
    private volatile TraceQuery? _engine;

    /// <summary>The SQL query; the trace files are the view <c>calls</c>.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Query { get; set; } = "";

    /// <summary>Trace files or Parquet exports; wildcards allowed.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Trace files or Parquet exports, taken as written; binds the PSPath of Get-ChildItem's output.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    protected override void ProcessRecord()
    {
        var literal = ParameterSetName == LiteralPathSet;
        foreach (var path in literal ? LiteralPath : Path)
        {
            _files.AddRange(FileSystemPaths.ResolveExisting(this, path, literal, "TraceFile", out var error));
            if (error is not null)
                WriteError(error);
        }
    }

    protected override void EndProcessing()
    {
        if (_files.Count == 0)
            return;
        TraceQuery engine;
        try
        {
            engine = new TraceQuery(Query);
        }
        catch (UtraceException ex)
        {
            ThrowTerminatingError(QueryFailed(ex));
            return;
        }
        using (engine)
        {
            _engine = engine;
            try
            {
                if (Load(engine))
                    WriteRows(engine);
            }
            catch (OperationCanceledException)
            {
                // StopProcessing interrupted DuckDB: the pipeline is stopping.
            }
            finally
            {
                _engine = null;
            }
        }
    }

    protected override void StopProcessing() => _engine?.Interrupt();

    /// <summary>Adds every file to the engine; false when none could be read.</summary>
    private bool Load(TraceQuery engine)
    {
        var loaded = 0;
        foreach (var file in _files)
        {
            try
            {
                if (engine.Add(file).WasCut)
                    WriteWarning($"The trace file '{file}' was cut short (its recording was killed, ran out of disk, or is still running): " +
                        "the query reads it up to its last complete record batch.");
                loaded++;
            }
            catch (UtraceException ex)
            {
                WriteError(ErrorRecords.From(ex, TraceFileInput.ErrorId(ex)));
            }
        }
        return loaded > 0;
    }

    private void WriteRows(TraceQuery engine)
    {
        IReadOnlyList<string> columns = [];
        try
        {
            foreach (var row in engine.Run(names => columns = names))
            {
                var result = new PSObject();
                for (var i = 0; i < row.Length; i++)
                    result.Properties.Add(new PSNoteProperty(columns[i], row[i]));
                WriteObject(result);
            }
        }
        catch (UtraceException ex)
        {
            ThrowTerminatingError(QueryFailed(ex));
        }
    }

    /// <summary>The terminating error of a query DuckDB refused: a syntax error is a ParserError.</summary>
    private static ErrorRecord QueryFailed(UtraceException ex) =>
        ex.ErrorId == "QuerySyntaxError"
            ? ErrorRecords.Create(ex, ex.ErrorId, ErrorCategory.ParserError, ex.Target, ex.Hint)
            : ErrorRecords.From(ex, "InvalidQuery");
}
