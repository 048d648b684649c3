using Utrace.Native.Elf;
using Utrace.Native.Tracing;
using Xunit;

namespace Utrace.Tests.Tracing;

public sealed class ProbeCostAdviceTests
{
    private static readonly FunctionInfo[] Functions = new[] { "main", "qsort", "cmp", "rand", "merge_sort", "memcpy", "fill" }
        .Select((name, i) => new FunctionInfo(name, name, "sort", FunctionKind.Function, (ulong)(0x1000 + i * 0x10), 0x10, "/tmp/sort"))
        .ToArray();

    private static FunctionProbeCost Cost(int id, long calls, long costNs) => new(id, calls, costNs);

    [Fact]
    public void TheFewestCostliestFunctionsThatTakeHalfTheTimeAreNamedCostliestFirst()
    {
        // 1 s traced: cmp 400 ms and rand 200 ms reach half; memcpy's 100 ms is not needed.
        var costs = new[] { Cost(0, 1, 20_000), Cost(3, 10_000, 200_000_000), Cost(2, 20_000, 400_000_000), Cost(5, 5_000, 100_000_000) };

        var dominating = ProbeCostAdvice.Dominating(costs, 1_000_000_000);

        Assert.Equal([2, 3], dominating.Select(c => c.FunctionId));
    }

    [Fact]
    public void ProbesSpreadOverMoreThanFiveFunctionsDominateNothing()
    {
        // Six functions at 9% each: the costliest five take 45%, under half.
        var costs = Enumerable.Range(0, 6).Select(id => Cost(id, 1000, 90_000_000));

        Assert.Empty(ProbeCostAdvice.Dominating(costs, 1_000_000_000));
    }

    [Fact]
    public void TheWarningNamesTheRatesTheExclusionToPasteAndTheSpeedUp()
    {
        // 2 s: cmp 1.2 s (100,000 calls/s) and rand 0.4 s (5,000 calls/s) of probes: 80%, so 5x faster without them.
        var dominating = new[] { Cost(2, 200_000, 1_200_000_000), Cost(3, 10_000, 400_000_000) };

        Assert.Equal(
            "The probes of cmp (100,000 calls/s), rand (5,000 calls/s) take about 80% of the program's CPU time, so their callers' " +
            "durations are mostly probe cost. Without them it would run about 5x faster: add -ExcludeFunction cmp, rand " +
            "(or -ProbeBudget 10 to stop probing such functions as the trace runs).",
            ProbeCostAdvice.Warning(dominating, Functions, 2_000_000_000));
    }

    [Fact]
    public void AnEstimateAboveTheTimeItselfCapsTheSpeedUp()
    {
        Assert.Equal(100, ProbeCostAdvice.SpeedUp(costNs: 3_000, elapsedNs: 1_000));
        Assert.Equal(2, ProbeCostAdvice.SpeedUp(costNs: 500, elapsedNs: 1_000));
    }

    [Fact]
    public void TheProgramsOwnTimeIsWhatTheProbesLeaveOfIt()
    {
        var costs = new[] { Cost(2, 1000, 600), Cost(3, 1000, 300) };

        Assert.Equal(100, ProbeCostAdvice.OwnTimeNs(costs, 1_000));
        Assert.Equal(5, ProbeCostAdvice.OwnTimeNs(costs, 500)); // at least 1% of it
    }

    [Fact]
    public void AFunctionGoesOverTheBudgetOnlyPastItsMinimumOfCallsAndOnlyOnce()
    {
        var budget = new ProbeBudget(Percent: 10, MinCalls: 1000);
        // Own time 1 ms: 10% is 100 us. cmp is over, rand too but dropped already, memcpy has too few calls, main costs too little.
        var costs = new[] { Cost(2, 1000, 150_000), Cost(3, 5000, 500_000), Cost(5, 999, 900_000), Cost(0, 5000, 100_000) };

        var over = ProbeCostAdvice.OverBudget(costs, 1_000_000, budget, isDropped: id => id == 3);

        Assert.Equal([2], over.Select(c => c.FunctionId));
    }
}
