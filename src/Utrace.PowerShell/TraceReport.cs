using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// What Start-UTrace and a UTraceJob tell the user about one trace, written once for both: the warnings
/// known at its start, those that came while it ran and at its end, and a failure to write its file.
/// </summary>
internal sealed class TraceReport(TraceSession session)
{
    private int _warningsShown;

    /// <summary>The warnings known once the trace has started.</summary>
    public IReadOnlyList<string> StartWarnings()
    {
        var warnings = session.Warnings;
        _warningsShown = warnings.Count;
        return warnings;
    }

    /// <summary>The warnings that came since those shown, while the trace runs.</summary>
    public IReadOnlyList<string> RunningWarnings()
    {
        var warnings = session.Warnings;
        var fresh = warnings.Skip(_warningsShown).ToArray();
        _warningsShown = warnings.Count;
        return fresh;
    }

    /// <summary>
    /// Once the trace has ended: what -Follow met while it ran (a child's program that could not be
    /// probed...), then what the summary says went unreported.
    /// </summary>
    public IEnumerable<string> EndWarnings(TraceSummary summary)
    {
        foreach (var warning in session.Warnings.Skip(_warningsShown))
            yield return warning;
        if (SummaryText.DroppedFunctions(summary) is { } dropped)
            yield return dropped;
        if (SummaryText.Drops(summary) is { } drops)
            yield return drops;
        if (SummaryText.CapturesLost(summary) is { } capturesLost)
            yield return capturesLost;
    }

    /// <summary>Why writing the trace file failed and ended the trace, or null.</summary>
    public ErrorRecord? RecordingFailure() =>
        session.RecordingFailure is { } failure ? ErrorRecords.From(failure, "RecordingFailed") : null;
}
