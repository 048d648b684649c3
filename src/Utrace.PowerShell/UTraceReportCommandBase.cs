using System.Management.Automation;
using Utrace.Native.Recording;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// The input of the report cmdlets: CallEvents from the pipeline, or objects with a CallEvent's
/// properties (a CallEvent deserialized by remoting or Import-Clixml), or trace files (-Path, or Get-ChildItem's files),
/// read straight into the report. Anything else is a non-terminating error.
/// </summary>
public abstract class UTraceReportCommandBase : PSCmdlet
{
    internal const string InputObjectSet = "InputObject";

    private readonly CallInput _input;
    private readonly CallHandler _add;
    private readonly Action<string> _readFile;
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    // The handlers are made once: ProcessRecord runs for every call of the pipeline.
    protected UTraceReportCommandBase()
    {
        _input = new CallInput(this);
        _add = Add;
        _readFile = path => ReadFile(path, literal: true);
    }

    /// <summary>A CallEvent, usually from the pipeline; or a trace file of Get-ChildItem.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public PSObject? InputObject { get; set; }

    /// <summary>Trace files written by Start-UTrace -OutFile, read without a PowerShell object per event; wildcards allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Trace files, taken as written (no wildcards).</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    protected sealed override void ProcessRecord()
    {
        if (ParameterSetName != InputObjectSet)
        {
            var literal = ParameterSetName == LiteralPathSet;
            foreach (var path in literal ? LiteralPath : Path)
                ReadFile(path, literal);
            return;
        }
        _input.Read(InputObject, _add, _readFile);
    }

    private void ReadFile(string path, bool literal)
    {
        var files = new TraceFileInput(this);
        if (ReadsCapturedValues)
            files.Read(path, literal, e => Add(e.Call));
        else
            files.ReadBatches(path, literal, Add, e => Add(e.Call));
    }

    /// <summary>Whether the report shows captured arguments and return values, which only a CallEvent of a file carries, not its record batch.</summary>
    internal virtual bool ReadsCapturedValues => false;

    /// <summary>Takes one call of the input.</summary>
    internal abstract void Add(in TracedCall call);

    /// <summary>Takes one record batch of a trace file; a report that aggregates columns overrides this.</summary>
    internal virtual void Add(TraceContext context, EventBatch batch)
    {
        for (var i = 0; i < batch.Length; i++)
            Add(batch.CallAt(context, i));
    }
}
