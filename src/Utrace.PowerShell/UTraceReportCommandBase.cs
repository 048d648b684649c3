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
    private static readonly string[] RequiredProperties =
        ["Function", "Module", "ProcessId", "ThreadId", "Depth", "StartNs", "DurationNs", "SelfNs"];

    internal const string InputObjectSet = "InputObject";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

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
        if (InputObject is null)
            return;
        if (InputObject.BaseObject is CallEvent call)
            Add(CallSample.From(call));
        // Get-ChildItem's files: the pipeline binds them here, as objects, before -LiteralPath could take their PSPath.
        else if (InputObject.BaseObject is FileInfo file)
            ReadFile(file.FullName, literal: true);
        else if (TryReadDeserialized(InputObject, out var sample, out var problem))
            Add(sample);
        else
            WriteError(ErrorRecords.Create(new ArgumentException($"The input is not a CallEvent: {problem}."), "InputNotCallEvent",
                ErrorCategory.InvalidType, InputObject,
                "Pipe the CallEvents of Start-UTrace (or read back with Import-Clixml, or from a remote session); give trace files with -Path, or pipe them from Get-ChildItem."));
    }

    private void ReadFile(string path, bool literal)
    {
        var files = new TraceFileInput(this);
        if (ReadsCapturedValues)
            files.Read(path, literal, e => Add(CallSample.From(e)));
        else
            files.ReadBatches(path, literal, Add, e => Add(CallSample.From(e)));
    }

    /// <summary>Whether the report shows captured arguments and return values, which only a CallEvent of a file carries, not its record batch.</summary>
    internal virtual bool ReadsCapturedValues => false;

    /// <summary>Takes one call of the input.</summary>
    internal abstract void Add(in CallSample call);

    /// <summary>Takes one record batch of a trace file; a report that aggregates columns overrides this.</summary>
    internal virtual void Add(TraceContext context, EventBatch batch)
    {
        for (var i = 0; i < batch.Length; i++)
            Add(CallSample.From(context, batch, i));
    }

    // Where the call's trace began, from its Start (wall clock) less its StartNs; 0 when it has no Start.
    private static long TraceStartOf(PSObject input, long startNs)
    {
        if (input.Properties["Start"]?.Value is not { } start)
            return 0;
        try
        {
            return ExportedCallReader.StartOf(start, 0) - startNs;
        }
        catch (FormatException)
        {
            return 0;
        }
    }

    private static bool TryReadDeserialized(PSObject input, out CallSample call, out string problem)
    {
        call = default;
        var values = new object?[RequiredProperties.Length];
        for (var i = 0; i < RequiredProperties.Length; i++)
        {
            values[i] = input.Properties[RequiredProperties[i]]?.Value;
            if (values[i] is null)
            {
                problem = $"it has no {RequiredProperties[i]} property";
                return false;
            }
        }
        try
        {
            call = new CallSample(
                LanguagePrimitives.ConvertTo<string>(values[0]), LanguagePrimitives.ConvertTo<string>(values[1]),
                LanguagePrimitives.ConvertTo<int>(values[2]), LanguagePrimitives.ConvertTo<int>(values[3]),
                LanguagePrimitives.ConvertTo<int>(values[4]), LanguagePrimitives.ConvertTo<long>(values[5]),
                LanguagePrimitives.ConvertTo<long>(values[6]), LanguagePrimitives.ConvertTo<long>(values[7]),
                // Events from before ComputerName existed have none: one host, as they were recorded.
                input.Properties["ComputerName"]?.Value as string ?? "",
                TraceStartOf(input, LanguagePrimitives.ConvertTo<long>(values[5])));
            problem = "";
            return true;
        }
        catch (PSInvalidCastException ex)
        {
            problem = ex.Message;
            return false;
        }
    }
}
