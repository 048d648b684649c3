namespace Utrace.PowerShell;

/// <summary>What a trace's summary tells the user in words.</summary>
internal static class SummaryText
{
    /// <summary>Why calls went unreported, with what to do about it; null when none did.</summary>
    public static string? Drops(TraceSummary summary)
    {
        if (summary.EventsDropped == 0)
            return null;
        var reasons = new List<string>();
        if (summary.DroppedTooDeep > 0)
            reasons.Add($"{summary.DroppedTooDeep} nested deeper than the kernel's 64 return probes per thread (trace fewer functions with -Function or -ExcludeFunction)");
        if (summary.DroppedRingBufferFull > 0)
            reasons.Add($"{summary.DroppedRingBufferFull} found the ring buffer full (filter in the kernel with -MinDuration, -MaxDepth or a narrower -Function)");
        if (summary.DroppedUnwritten > 0)
            reasons.Add($"{summary.DroppedUnwritten} could not be written to the trace file (the disk was too slow, or writing failed)");
        if (summary.DroppedUnread > 0)
            reasons.Add($"{summary.DroppedUnread} arrived after the pipeline stopped reading");
        return $"{summary.EventsDropped} calls were not reported: {string.Join("; ", reasons)}.";
    }

    /// <summary>The functions -ProbeBudget stopped probing, when and after how many calls; null when none.</summary>
    public static string? DroppedFunctions(TraceSummary summary) => summary.DroppedFunctions.Count == 0
        ? null
        : $"-ProbeBudget stopped probing {summary.DroppedFunctions.Count} function(s), whose later calls are not reported: " +
          string.Join("; ", summary.DroppedFunctions.Select(f =>
              $"{f.Function} at {f.Time:HH:mm:ss.fff} after {f.Calls:#,0} calls (its probes had cost {f.ProbeSharePercent:#,0}% of the program's own CPU time)")) +
          ". The summary's DroppedFunctions lists them.";

    /// <summary>Captured values the ring buffer refused (-Capture), with what to do about it; null when none.</summary>
    public static string? CapturesLost(TraceSummary summary) => summary.CapturesLost == 0
        ? null
        : $"{summary.CapturesLost} capture records (arguments, strings, return values) found the ring buffer full. A call that lost " +
          "its arguments has Arguments $null, one that lost a string shows it as unreadable, one that lost its return value has " +
          "ReturnValue $null; calls whose own record was lost too are counted as dropped. Capture fewer functions, or filter in the " +
          "kernel with -MinDuration or -MaxDepth.";

    /// <summary>How a launched program ended, when not with exit code 0; null otherwise.</summary>
    public static string? Exit(TraceSummary summary) => summary.ExitCode switch
    {
        // 128 + n is also how a process ended by signal n is reported: the two cannot be told apart here.
        > 128 and <= 128 + 64 and var code => $"'{summary.Command}' exited with code {code} (as one ended by signal {code - 128} does).",
        0 or null => null,
        var code => $"'{summary.Command}' exited with code {code}.",
    };
}
