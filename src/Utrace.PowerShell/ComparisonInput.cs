using System.Management.Automation;
using Utrace.Native.Recording;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// One side of Compare-UTrace, as function summaries: trace files (paths, Get-ChildItem's files)
/// and calls (CallEvents, deserialized or not) are summarized as Measure-UTrace would; function
/// summaries (Measure-UTrace, Start-UTrace -Summary, deserialized) are taken as they are.
/// </summary>
internal sealed class ComparisonInput(PSCmdlet cmdlet, string side)
{
    private static readonly string[] SummaryProperties = ["Function", "Module", "Calls", "TotalNs", "SelfNs", "AverageNs", "MinNs", "MaxNs"];
    private readonly List<FunctionSummary> _summaries = [];
    private readonly CallSummaryBuilder _calls = new(byThread: false);
    private readonly ImportedCallTable _deserializedCalls = new();
    private readonly TraceFileInput _files = new(cmdlet);

    public void Add(PSObject item)
    {
        switch (item.BaseObject)
        {
            case FunctionSummary summary:
                _summaries.Add(summary);
                return;
            case CallEvent call:
                _calls.Add(call.Call);
                return;
            case string path:
                _files.ReadBatches(path, literal: false, _calls.Add, e => _calls.Add(e.Call));
                return;
            case FileInfo file:
                _files.ReadBatches(file.FullName, literal: true, _calls.Add, e => _calls.Add(e.Call));
                return;
            // -Reference $run1, $run2: two traces' events given together.
            case object[] items:
                foreach (var inner in items)
                    Add(PSObject.AsPSObject(inner));
                return;
        }
        try
        {
            if (SummaryProperties.All(name => item.Properties[name] is not null))
                _summaries.Add(ReadSummary(item));
            else
                _calls.Add(CallPropertyReader.Read(item, "it", _deserializedCalls).Call);
        }
        catch (FormatException ex)
        {
            cmdlet.WriteError(ErrorRecords.Create(new ArgumentException($"The {side} input is not a trace, a call or a function summary: {ex.Message}.", ex),
                "InputNotComparable", ErrorCategory.InvalidType, item,
                "Give trace files (paths or Get-ChildItem), the CallEvents of Start-UTrace, or the summaries of Measure-UTrace or Start-UTrace -Summary."));
        }
    }

    /// <summary>Everything given, as one summary per function.</summary>
    public IEnumerable<FunctionSummary> Summaries() => _summaries.Concat(_calls.Build());

    // A FunctionSummary read back by Import-Clixml or from a remote session: its integer figures, exactly.
    private static FunctionSummary ReadSummary(PSObject bag)
    {
        long Number(string name)
        {
            try
            {
                return LanguagePrimitives.ConvertTo<long>(bag.Properties[name].Value);
            }
            catch (PSInvalidCastException ex)
            {
                throw new FormatException($"its {name} '{bag.Properties[name].Value}' is not a number", ex);
            }
        }
        Duration Time(string name) => Duration.FromNanoseconds(Number(name));
        return new FunctionSummary(bag.Properties["Function"].Value?.ToString() ?? "", bag.Properties["Module"].Value?.ToString() ?? "", null,
            Number("Calls"), Time("TotalNs"), Time("SelfNs"), Time("AverageNs"), Time("MinNs"), Time("MaxNs"), totalPercent: 0, selfPercent: 0);
    }
}
