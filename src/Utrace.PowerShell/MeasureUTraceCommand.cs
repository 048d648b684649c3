using System.Management.Automation;
using Utrace.Native.Recording;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// Summarizes calls per function (Calls, Total, Self, Average, Min, Max and percentages of
/// the traced time), largest Total first, keeping no event in memory.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "UTrace", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(FunctionSummary))]
public sealed class MeasureUTraceCommand : UTraceReportCommandBase
{
    private CallSummaryBuilder? _summary;

    /// <summary>One summary per function and thread; percentages are then of the thread's traced time.</summary>
    [Parameter]
    public SwitchParameter ByThread { get; set; }

    protected override void BeginProcessing() => _summary = new CallSummaryBuilder(ByThread);

    internal override void Add(in TracedCall call) => _summary!.Add(call);

    internal override void Add(TraceContext context, EventBatch batch) => _summary!.Add(context, batch);

    protected override void EndProcessing()
    {
        foreach (var function in _summary!.Build())
            WriteObject(function);
    }
}
