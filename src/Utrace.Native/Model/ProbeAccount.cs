namespace Utrace;

/// <summary>
/// The part of a call's measured time that is Utrace's probes: the traced calls the kernel counted inside it, times
/// what each costs on this machine (a <see cref="ProbeCalibration"/>), plus the part of its own probes between its
/// two timestamps. All zero when the trace was not calibrated (or is a file from before probe costs were kept).
/// </summary>
internal readonly record struct ProbeAccount(long CostNs, long SelfCostNs, int CallsInside)
{
    /// <summary>Past this share of the raw duration, the estimate is mostly its own error.</summary>
    public const double DominatedShare = 0.8;

    /// <summary>The program's own time in <paramref name="rawNs"/> measured, <paramref name="costNs"/> of which are probes: never negative.</summary>
    public static long OwnTime(long rawNs, long costNs) => Math.Max(0, rawNs - costNs);

    /// <summary>
    /// The program's own self time: <paramref name="rawSelfNs"/> less <paramref name="selfCostNs"/>, between 0 and the call's own
    /// time <paramref name="ownDurationNs"/> (where the estimate overshoots a callee, a self time could otherwise exceed it).
    /// </summary>
    public static long OwnSelfTime(long rawSelfNs, long selfCostNs, long ownDurationNs) => Math.Min(ownDurationNs, OwnTime(rawSelfNs, selfCostNs));

    /// <summary>True when the probes' cost is more than <see cref="DominatedShare"/> of <paramref name="rawDurationNs"/>.</summary>
    public bool Dominates(long rawDurationNs) => Dominated(CostNs, rawDurationNs);

    /// <summary>True when <paramref name="costNs"/> of probes is more than <see cref="DominatedShare"/> of <paramref name="rawDurationNs"/>.</summary>
    public static bool Dominated(long costNs, long rawDurationNs) => rawDurationNs > 0 && costNs > DominatedShare * rawDurationNs;
}
