namespace Utrace;

/// <summary>What Compare-UTrace orders its lines by: the largest change of this figure first.</summary>
public enum ComparisonOrder
{
    Total,
    Self,
    Calls,
    Average,
}

/// <summary>Where a function was called: in both traces compared, or in one of them only.</summary>
public enum ComparisonSide
{
    Both,
    /// <summary>Called in the reference trace only.</summary>
    ReferenceOnly,
    /// <summary>Called in the difference trace only.</summary>
    DifferenceOnly,
}

/// <summary>
/// One line of Compare-UTrace: a function's figures in the reference trace and in the difference
/// trace, side by side, with the change (difference minus reference) and the ratio (difference over
/// reference; null where the reference is 0).
/// </summary>
public sealed class FunctionComparison
{
    internal FunctionComparison(string function, string module, FunctionSummary? reference, FunctionSummary? difference)
    {
        Function = function;
        Module = module;
        Side = reference is null ? ComparisonSide.DifferenceOnly : difference is null ? ComparisonSide.ReferenceOnly : ComparisonSide.Both;
        ReferenceCalls = reference?.Calls ?? 0;
        DifferenceCalls = difference?.Calls ?? 0;
        ReferenceTotal = reference?.Total ?? default;
        DifferenceTotal = difference?.Total ?? default;
        ReferenceSelf = reference?.Self ?? default;
        DifferenceSelf = difference?.Self ?? default;
        ReferenceAverage = reference?.Average ?? default;
        DifferenceAverage = difference?.Average ?? default;
    }

    public string Function { get; }
    public string Module { get; }
    public ComparisonSide Side { get; }

    public long ReferenceCalls { get; }
    public long DifferenceCalls { get; }
    public long CallsDelta => DifferenceCalls - ReferenceCalls;
    public double? CallsRatio => Ratio(DifferenceCalls, ReferenceCalls);

    public Duration ReferenceTotal { get; }
    public Duration DifferenceTotal { get; }
    public Duration TotalDelta => DifferenceTotal - ReferenceTotal;
    public double? TotalRatio => Ratio(DifferenceTotal.Nanoseconds, ReferenceTotal.Nanoseconds);

    public Duration ReferenceSelf { get; }
    public Duration DifferenceSelf { get; }
    public Duration SelfDelta => DifferenceSelf - ReferenceSelf;
    public double? SelfRatio => Ratio(DifferenceSelf.Nanoseconds, ReferenceSelf.Nanoseconds);

    public Duration ReferenceAverage { get; }
    public Duration DifferenceAverage { get; }
    public Duration AverageDelta => DifferenceAverage - ReferenceAverage;
    public double? AverageRatio => Ratio(DifferenceAverage.Nanoseconds, ReferenceAverage.Nanoseconds);

    public override string ToString() => $"{Function} {CallsDelta:+#;-#;0} calls, {TotalDelta}";

    private static double? Ratio(long difference, long reference) => reference == 0 ? null : (double)difference / reference;
}
