using System.Management.Automation;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// Writes calls as the nested text of uftrace replay (or a flat list), as strings: each
/// outermost call's tree as soon as that call has returned.
/// </summary>
/// <remarks>
/// ConvertTo, not Format: Format-* cmdlets write formatting records that only Out-* cmdlets
/// understand, while these lines are data: they can be saved (Set-Content), searched
/// (Select-String) or compared, like the text of ConvertTo-Csv or ConvertTo-Json.
/// </remarks>
[Cmdlet(VerbsData.ConvertTo, "UTraceCallGraph", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(string))]
public sealed class ConvertToUTraceCallGraphCommand : UTraceReportCommandBase
{
    private CallGraphWriter? _writer;

    /// <summary>One line per call in entry order, with its self time and depth, instead of the nested view.</summary>
    [Parameter]
    public SwitchParameter Flat { get; set; }

    /// <summary>Starts each line with its time in seconds from the start of the trace (entry, or return for a closer).</summary>
    [Parameter]
    public SwitchParameter Timestamp { get; set; }

    protected override void BeginProcessing()
    {
        _writer = new CallGraphWriter(Flat, Timestamp);
        WriteObject(_writer.Header);
    }

    internal override void Add(in TracedCall call)
    {
        foreach (var line in _writer!.Add(call))
            WriteObject(line);
    }

    protected override void EndProcessing()
    {
        foreach (var line in _writer!.Flush())
            WriteObject(line);
    }
}
