namespace Utrace.Native.Tracing;

/// <summary>One function's probes so far: its calls (entry hits) and what they cost, from the calibration.</summary>
internal readonly record struct FunctionProbeCost(int FunctionId, long Calls, long CostNs);

/// <summary>
/// The decisions taken from the probes' cost while a trace runs, pure so that tests reach them: which few functions'
/// probes dominate the program's time (the advisor's warning), and which functions go over a <see cref="ProbeBudget"/>.
/// </summary>
internal static class ProbeCostAdvice
{
    /// <summary>At most this many functions are named: past that, no few functions dominate.</summary>
    public const int MostNamed = 5;

    /// <summary>The named functions' probes take at least this share of the program's time.</summary>
    public const double DominantShare = 0.5;

    /// <summary>The estimate of what the program's own work takes never goes below this share (the cost is an estimate).</summary>
    private const double LeastOwnShare = 0.01;

    /// <summary>
    /// The fewest functions (at most <see cref="MostNamed"/>), costliest first, whose probes together took at least
    /// <see cref="DominantShare"/> of <paramref name="elapsedNs"/>; empty when no few functions do.
    /// </summary>
    public static IReadOnlyList<FunctionProbeCost> Dominating(IEnumerable<FunctionProbeCost> costs, long elapsedNs)
    {
        var named = new List<FunctionProbeCost>(MostNamed);
        long sum = 0;
        foreach (var cost in costs.Where(c => c.CostNs > 0).OrderByDescending(c => c.CostNs).Take(MostNamed))
        {
            named.Add(cost);
            sum += cost.CostNs;
            if (sum >= DominantShare * elapsedNs)
                return named;
        }
        return [];
    }

    /// <summary>How many times faster the program would run without probes that cost <paramref name="costNs"/> of <paramref name="elapsedNs"/>.</summary>
    public static double SpeedUp(long costNs, long elapsedNs) =>
        elapsedNs / Math.Max(elapsedNs - costNs, LeastOwnShare * elapsedNs);

    /// <summary>The advisor's warning: the functions with their call rates, the exclusion to paste and the speed-up.</summary>
    public static string Warning(IReadOnlyList<FunctionProbeCost> dominating, IReadOnlyList<FunctionInfo> functions, long elapsedNs)
    {
        var seconds = elapsedNs / 1e9;
        var rates = dominating.Select(c => $"{functions[c.FunctionId].Name} ({c.Calls / seconds:#,0} calls/s)");
        var cost = dominating.Sum(c => c.CostNs);
        var share = Math.Min(100, 100.0 * cost / elapsedNs);
        var exclusion = string.Join(", ", dominating.Select(c => functions[c.FunctionId].Name));
        return $"The probes of {string.Join(", ", rates)} take about {share:0}% of the program's CPU time, so their callers' durations are " +
            $"mostly probe cost. Without them it would run about {SpeedUp(cost, elapsedNs):0.#}x faster: add -ExcludeFunction {exclusion} " +
            "(or -ProbeBudget 10 to stop probing such functions as the trace runs).";
    }

    /// <summary>
    /// What the program's own work took of <paramref name="elapsedNs"/>: the rest once every probe's cost is taken out (at
    /// least a small share of it, as the costs are estimates).
    /// </summary>
    public static long OwnTimeNs(IReadOnlyCollection<FunctionProbeCost> costs, long elapsedNs) =>
        Math.Max(elapsedNs - costs.Sum(c => c.CostNs), (long)(LeastOwnShare * elapsedNs));

    /// <summary>
    /// The functions, not yet dropped, that made at least the budget's minimum of calls and whose probes cost more than its
    /// share of the program's own time, <paramref name="ownNs"/>.
    /// </summary>
    public static IEnumerable<FunctionProbeCost> OverBudget(IEnumerable<FunctionProbeCost> costs, long ownNs, ProbeBudget budget,
        Func<int, bool> isDropped) =>
        costs.Where(c => c.Calls >= budget.MinCalls && c.CostNs > budget.Percent / 100 * ownNs && !isDropped(c.FunctionId));
}
