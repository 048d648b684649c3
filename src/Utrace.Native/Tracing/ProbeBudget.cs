namespace Utrace.Native.Tracing;

/// <summary>
/// -ProbeBudget: a function whose probes have cost more than <see cref="Percent"/> of the program's own CPU time so far, once it
/// has made at least <see cref="MinCalls"/> calls, stops being probed.
/// </summary>
internal sealed record ProbeBudget(double Percent, long MinCalls)
{
    public const long DefaultMinCalls = 1000;
}
