using System.Management.Automation;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// Merges calls into their call stacks, weighted by self time, and writes an interactive SVG
/// flame graph or folded stacks (for flamegraph.pl, inferno, speedscope). Memory grows with
/// the distinct stacks, not with the calls.
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "UTraceFlameGraph", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(string))]
public sealed class ConvertToUTraceFlameGraphCommand : UTraceReportCommandBase
{
    private readonly StackTree _stacks = new();

    /// <summary>Svg (default): one string, an SVG document; Folded: one string per stack.</summary>
    [Parameter]
    public FlameGraphFormat Format { get; set; } = FlameGraphFormat.Svg;

    /// <summary>The title at the top of the SVG.</summary>
    [Parameter]
    [ValidateNotNull]
    public string Title { get; set; } = "Flame graph";

    /// <summary>Width of the SVG in pixels.</summary>
    [Parameter]
    [ValidateRange(200, 100_000)]
    public int Width { get; set; } = 1200;

    private long _calls;
    private long _timed;

    internal override void Add(in TracedCall call)
    {
        _calls++;
        if (call.HasDuration)
            _timed++;
        _stacks.Add(call);
    }

    protected override void EndProcessing()
    {
        if (_calls > 0 && _timed == 0)
            WriteWarning("No call has a duration (traced entry-only: -ReturnMode EntryOnly, or a program that switches stacks such as one using makecontext), so the flame graph, which weighs stacks by time, is empty. Measure-UTrace and ConvertTo-UTraceCallGraph show such calls.");
        _stacks.Complete();
        if (Format == FlameGraphFormat.Folded)
        {
            foreach (var line in _stacks.ToFolded())
                WriteObject(line);
        }
        else
        {
            WriteObject(FlameGraphSvg.Write(_stacks, Title, Width));
        }
    }
}
