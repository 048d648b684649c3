using System.Management.Automation;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// Compares two traces function by function: calls, total, self and average time in each, with
/// the change and the ratio, the largest change first. Each side may be trace files, CallEvents or
/// function summaries; functions are matched by name and module, so the traces may come from two
/// builds or two machines.
/// </summary>
[Cmdlet(VerbsData.Compare, "UTrace")]
[OutputType(typeof(FunctionComparison))]
public sealed class CompareUTraceCommand : PSCmdlet
{
    private ComparisonInput? _reference;
    private ComparisonInput? _difference;

    /// <summary>The trace compared against: trace files, CallEvents, or function summaries.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public PSObject[] Reference { get; set; } = [];

    /// <summary>The trace compared with the reference; takes pipeline input.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public PSObject[] Difference { get; set; } = [];

    /// <summary>Which change orders the lines, largest first: Total (default), Self, Calls or Average.</summary>
    [Parameter]
    public ComparisonOrder SortBy { get; set; } = ComparisonOrder.Total;

    protected override void BeginProcessing()
    {
        _reference = new ComparisonInput(this, "reference");
        _difference = new ComparisonInput(this, "difference");
        foreach (var item in Reference)
            _reference.Add(item);
    }

    protected override void ProcessRecord()
    {
        foreach (var item in Difference)
            _difference!.Add(item);
    }

    protected override void EndProcessing()
    {
        foreach (var comparison in SummaryComparison.Compare(_reference!.Summaries(), _difference!.Summaries(), SortBy))
            WriteObject(comparison);
    }
}
