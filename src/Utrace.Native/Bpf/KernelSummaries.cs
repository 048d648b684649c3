using Utrace.Native.Reports;

namespace Utrace.Native.Bpf;

/// <summary>Turns the kernel's per-function counters (summary mode) into the FunctionSummary objects Measure-UTrace writes.</summary>
internal static class KernelSummaries
{
    /// <summary>One summary per function called, largest Total first; percentages are of <paramref name="tracedNs"/>, the outermost calls' time.</summary>
    public static IReadOnlyList<FunctionSummary> Build(IReadOnlyList<FunctionInfo> functions, FunctionSummaryRecord[] records, ulong tracedNs)
    {
        double Percent(ulong ns) => tracedNs == 0 ? 0 : 100.0 * ns / tracedNs;
        var summaries = new List<FunctionSummary>();
        for (var id = 0; id < records.Length; id++)
        {
            ref readonly var r = ref records[id];
            if (r.Calls == 0)
                continue;
            var buckets = new long[Abi.HistogramBuckets];
            for (var b = 0; b < buckets.Length; b++)
                buckets[b] = (long)r.Histogram[b];
            summaries.Add(new FunctionSummary(functions[id].Name, functions[id].Module, null, (long)r.Calls,
                Duration.FromNanoseconds((long)r.TotalNs), Duration.FromNanoseconds((long)r.SelfNs),
                Duration.FromNanoseconds((long)(r.SumNs / r.Calls)),
                Duration.FromNanoseconds((long)r.MinNs), Duration.FromNanoseconds((long)r.MaxNs),
                Percent(r.TotalNs), Percent(r.SelfNs), new LatencyHistogram(buckets))
            {
                ProbeCost = Duration.FromNanoseconds((long)(r.RawSumNs - r.SumNs)),
                ProbeDominated = ProbeAccount.Dominated((long)(r.RawSumNs - r.SumNs), (long)r.RawSumNs),
            });
        }
        return summaries.OrderByDescending(s => s.Total).ToArray();
    }
}
