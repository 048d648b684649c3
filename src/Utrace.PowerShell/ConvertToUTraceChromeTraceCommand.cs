using System.Management.Automation;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// Writes calls as Trace Event Format JSON for Perfetto UI and chrome://tracing, one line per
/// event as the calls arrive: the lines joined make one JSON array.
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "UTraceChromeTrace", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(string))]
public sealed class ConvertToUTraceChromeTraceCommand : UTraceReportCommandBase
{
    private ChromeTraceWriter? _writer;

    /// <summary>
    /// Gives each event "args": its self time, depth and captured values. Left out by default:
    /// speedscope counts a frame per distinct name and args, so every call would be a function of its own.
    /// </summary>
    [Parameter]
    public SwitchParameter IncludeArguments { get; set; }

    internal override bool ReadsCapturedValues => IncludeArguments;

    protected override void BeginProcessing()
    {
        _writer = new ChromeTraceWriter(IncludeArguments);
        WriteObject(ChromeTraceWriter.Begin);
    }

    internal override void Add(in TracedCall call)
    {
        foreach (var line in _writer!.Add(call))
            WriteObject(line);
    }

    protected override void EndProcessing() => WriteObject(ChromeTraceWriter.End);
}
