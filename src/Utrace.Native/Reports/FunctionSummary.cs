namespace Utrace;

/// <summary>One line of Measure-UTrace: the calls of one function (of one thread with -ByThread).</summary>
public sealed class FunctionSummary
{
    internal FunctionSummary(string function, string module, int? threadId, long calls, Duration total, Duration self,
        Duration average, Duration min, Duration max, double totalPercent, double selfPercent, LatencyHistogram? histogram = null)
    {
        Function = function;
        Module = module;
        ThreadId = threadId;
        Calls = calls;
        Total = total;
        Self = self;
        Average = average;
        Min = min;
        Max = max;
        TotalPercent = totalPercent;
        SelfPercent = selfPercent;
        Histogram = histogram;
    }

    public string Function { get; }
    public string Module { get; }

    /// <summary>The thread, with -ByThread; otherwise null.</summary>
    public int? ThreadId { get; }

    public long Calls { get; }

    /// <summary>Time inside the function's outermost calls: a recursive call inside another call of the same function is not counted twice.</summary>
    public Duration Total { get; }

    /// <summary>Time in the function itself, not in traced callees, over all calls.</summary>
    public Duration Self { get; }

    /// <summary>Mean duration of one call (every call, nested recursive ones included).</summary>
    public Duration Average { get; }

    public Duration Min { get; }
    public Duration Max { get; }

    /// <summary>Total, Self, Average, Min and Max as plain integers (ns), as CallEvent's DurationNs: what Export-Csv and arithmetic want.</summary>
    public long TotalNs => Total.Nanoseconds;
    public long SelfNs => Self.Nanoseconds;
    public long AverageNs => Average.Nanoseconds;
    public long MinNs => Min.Nanoseconds;
    public long MaxNs => Max.Nanoseconds;

    /// <summary>Total as a percentage of the traced time (the outermost calls of every thread, or of the thread with -ByThread).</summary>
    public double TotalPercent { get; }

    /// <summary>Self as a percentage of the traced time: these add up to 100.</summary>
    public double SelfPercent { get; }

    /// <summary>What Utrace's probes took of the function's calls, summed over every call: taken out of the times above.</summary>
    public Duration ProbeCost { get; init; }

    /// <summary>
    /// True when the probes took most (over 80%) of the function's measured time: its figures are then mostly the
    /// estimate's error. Leave its callees out of the trace (-ExcludeFunction) to time it.
    /// </summary>
    public bool ProbeDominated { get; init; }

    /// <summary>
    /// Of <see cref="Total"/>, the time the function's threads spent on a CPU (Utrace's probes taken out, as from Total):
    /// far below Total when its calls sleep, wait or are preempted; in-kernel summaries (-Summary) keep it as measured, as
    /// their other figures. Null when no call had it (entry-only calls, files from before it was measured).
    /// </summary>
    public Duration? OnCpu { get; init; }

    /// <summary>How the durations spread (in-kernel summaries, Start-UTrace -Summary); null from Measure-UTrace.</summary>
    public LatencyHistogram? Histogram { get; }

    public override string ToString() => $"{Function} {Total}";
}
