using System.Text;

namespace Utrace;

/// <summary>
/// How a function's call durations spread: bucket b counts calls that lasted [2^b, 2^(b+1)) ns.
/// Prints as a small bar chart between the first and last bucket in use.
/// </summary>
public sealed class LatencyHistogram
{
    private static readonly char[] Bars = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

    public LatencyHistogram(IReadOnlyList<long> buckets) => Buckets = buckets.ToArray();

    /// <summary>Calls per bucket; bucket b holds durations of at least 2^b ns and under 2^(b+1) ns.</summary>
    public IReadOnlyList<long> Buckets { get; }

    /// <summary>The shortest duration bucket <paramref name="bucket"/> holds.</summary>
    public static Duration LowerBound(int bucket) => Duration.FromNanoseconds(bucket == 0 ? 0 : 1L << bucket);

    /// <summary>"1.02 us ▁▃█▅ 16.4 us": the range in use, one bar per bucket, scaled to the fullest.</summary>
    public override string ToString()
    {
        var first = -1;
        var last = -1;
        for (var b = 0; b < Buckets.Count; b++)
        {
            if (Buckets[b] == 0)
                continue;
            if (first < 0)
                first = b;
            last = b;
        }
        if (first < 0)
            return "";
        var fullest = Buckets.Max();
        var bars = new StringBuilder();
        for (var b = first; b <= last; b++)
            bars.Append(Bars[Buckets[b] == 0 ? 0 : Math.Max(1, (int)Math.Round(8.0 * Buckets[b] / fullest))]);
        return $"{LowerBound(first)} {bars} {Duration.FromNanoseconds(1L << (last + 1))}";
    }
}
