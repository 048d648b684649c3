namespace Utrace.Native.Reports;

/// <summary>
/// Pairs two traces' function summaries by function and module (names, not ids: the traces may
/// come from two builds or two machines) and orders the pairs by the size of their change.
/// </summary>
internal static class SummaryComparison
{
    public static IReadOnlyList<FunctionComparison> Compare(IEnumerable<FunctionSummary> reference, IEnumerable<FunctionSummary> difference,
        ComparisonOrder order)
    {
        var referenceByName = ByFunction(reference);
        var differenceByName = ByFunction(difference);
        return referenceByName.Keys.Union(differenceByName.Keys)
            .Select(key => new FunctionComparison(key.Function, key.Module, referenceByName.GetValueOrDefault(key), differenceByName.GetValueOrDefault(key)))
            .OrderByDescending(c => Math.Abs(Change(c, order)))
            .ThenByDescending(c => Math.Abs(c.CallsDelta))
            .ThenBy(c => c.Function, StringComparer.Ordinal)
            .ThenBy(c => c.Module, StringComparer.Ordinal)
            .ToArray();
    }

    private static long Change(FunctionComparison comparison, ComparisonOrder order) => order switch
    {
        ComparisonOrder.Self => comparison.SelfDelta.Nanoseconds,
        ComparisonOrder.Calls => comparison.CallsDelta,
        ComparisonOrder.Average => comparison.AverageDelta.Nanoseconds,
        _ => comparison.TotalDelta.Nanoseconds,
    };

    // Per-thread summaries (Measure-UTrace -ByThread) of one function are added up: threads differ between runs.
    private static Dictionary<(string Function, string Module), FunctionSummary> ByFunction(IEnumerable<FunctionSummary> summaries) =>
        summaries.GroupBy(s => (s.Function, s.Module))
            .ToDictionary(g => g.Key, g => g.Skip(1).Any() ? Merge(g.ToArray()) : g.First());

    private static FunctionSummary Merge(IReadOnlyList<FunctionSummary> parts)
    {
        var calls = parts.Sum(p => p.Calls);
        var total = Duration.FromNanoseconds(parts.Sum(p => p.Total.Nanoseconds));
        var self = Duration.FromNanoseconds(parts.Sum(p => p.Self.Nanoseconds));
        var summed = parts.Sum(p => p.Average.Nanoseconds * p.Calls);
        return new FunctionSummary(parts[0].Function, parts[0].Module, null, calls, total, self,
            Duration.FromNanoseconds(calls == 0 ? 0 : summed / calls), parts.Min(p => p.Min), parts.Max(p => p.Max), totalPercent: 0, selfPercent: 0);
    }
}
