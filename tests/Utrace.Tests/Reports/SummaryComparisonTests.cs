using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

public sealed class SummaryComparisonTests
{
    private static FunctionSummary Summary(string function, long calls, long totalNs, long selfNs, int? threadId = null, string module = "demo") =>
        new(function, module, threadId, calls, Duration.FromNanoseconds(totalNs), Duration.FromNanoseconds(selfNs),
            Duration.FromNanoseconds(calls == 0 ? 0 : totalNs / calls), Duration.FromNanoseconds(1), Duration.FromNanoseconds(totalNs), 0, 0);

    [Fact]
    public void PairsFunctionsByNameAndGivesDeltasAndRatios()
    {
        var result = SummaryComparison.Compare(
            [Summary("main", 1, 1_000, 100), Summary("quicksort", 10, 800, 800), Summary("gone", 2, 50, 50)],
            [Summary("main", 1, 3_000, 100), Summary("quicksort", 30, 2_400, 2_400), Summary("new", 5, 70, 70)],
            ComparisonOrder.Total);

        Assert.Equal(["main", "quicksort", "new", "gone"], result.Select(c => c.Function));
        var quicksort = result[1];
        Assert.Equal((10L, 30L, 20L), (quicksort.ReferenceCalls, quicksort.DifferenceCalls, quicksort.CallsDelta));
        Assert.Equal(3.0, quicksort.CallsRatio);
        Assert.Equal(1_600, quicksort.TotalDelta.Nanoseconds);
        Assert.Equal(3.0, quicksort.TotalRatio);
        Assert.Equal(ComparisonSide.Both, quicksort.Side);
        var added = result[2];
        Assert.Equal((ComparisonSide.DifferenceOnly, 0L, 5L, 5L), (added.Side, added.ReferenceCalls, added.DifferenceCalls, added.CallsDelta));
        Assert.Null(added.CallsRatio);
        var removed = result[3];
        Assert.Equal((ComparisonSide.ReferenceOnly, -2L, -50L), (removed.Side, removed.CallsDelta, removed.TotalDelta.Nanoseconds));
        Assert.Equal(0.0, removed.TotalRatio);
    }

    [Theory]
    [InlineData(ComparisonOrder.Calls, new[] { "b", "a" })]
    [InlineData(ComparisonOrder.Total, new[] { "a", "b" })]
    [InlineData(ComparisonOrder.Self, new[] { "b", "a" })]
    public void OrdersByTheLargestChangeOfTheChosenFigure(ComparisonOrder order, string[] expected)
    {
        var result = SummaryComparison.Compare(
            [Summary("a", 1, 100, 100), Summary("b", 1, 100, 10)],
            [Summary("a", 2, 1_000, 100), Summary("b", 10, 90, 90)],
            order);

        Assert.Equal(expected, result.Select(c => c.Function));
    }

    [Fact]
    public void AddsUpTheThreadsOfOneFunction()
    {
        var result = SummaryComparison.Compare(
            [Summary("work", 2, 200, 100, threadId: 11), Summary("work", 3, 300, 200, threadId: 12)],
            [Summary("work", 5, 500, 300)],
            ComparisonOrder.Total);

        var work = Assert.Single(result);
        Assert.Equal((5L, 0L, 500L, 300L), (work.ReferenceCalls, work.CallsDelta, work.ReferenceTotal.Nanoseconds, work.ReferenceSelf.Nanoseconds));
        Assert.Equal(100, work.ReferenceAverage.Nanoseconds);
    }

    [Fact]
    public void KeepsFunctionsOfTheSameNameInTwoModulesApart()
    {
        var result = SummaryComparison.Compare(
            [Summary("init", 1, 10, 10, module: "liba.so"), Summary("init", 1, 10, 10, module: "libb.so")],
            [Summary("init", 4, 40, 40, module: "liba.so")],
            ComparisonOrder.Calls);

        Assert.Equal([("init", "liba.so", 3L), ("init", "libb.so", -1L)], result.Select(c => (c.Function, c.Module, c.CallsDelta)));
    }
}
