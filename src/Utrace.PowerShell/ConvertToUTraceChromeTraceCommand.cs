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
    private readonly ChromeTraceWriter _writer = new();

    protected override void BeginProcessing() => WriteObject(ChromeTraceWriter.Begin);

    internal override void Add(in TracedCall call)
    {
        foreach (var line in _writer.Add(call))
            WriteObject(line);
    }

    protected override void EndProcessing() => WriteObject(ChromeTraceWriter.End);
}
