using System.Reflection;
using Utrace.Native.Bpf;

namespace Utrace.Native.Tracing;

/// <summary>
/// Puts the kernel's counters (struct utrace_stats, read as summed 8-byte slots) into the TraceSummary
/// properties marked [KernelCounter], so that a counter added to the header and the summary needs no code here.
/// </summary>
internal static class KernelCounters
{
    private static readonly (PropertyInfo Property, KernelCounterAttribute Counter)[] Properties =
        typeof(TraceSummary).GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(property => (property, counter: property.GetCustomAttribute<KernelCounterAttribute>()))
            .Where(pair => pair.counter is not null)
            .Select(pair => (pair.property, pair.counter!))
            .ToArray();

    /// <summary>
    /// <paramref name="summary"/> with every counter from <paramref name="counters"/> (a slot it lacks counts 0),
    /// and EventsDropped the sum of the kernel's drops, DroppedUnread and DroppedUnwritten.
    /// </summary>
    public static TraceSummary Apply(TraceSummary summary, ReadOnlySpan<ulong> counters)
    {
        var filled = summary with { };
        long droppedInKernel = 0;
        foreach (var (property, counter) in Properties)
        {
            var slot = counter.Offset / sizeof(ulong);
            var value = slot < counters.Length ? (long)counters[slot] : 0;
            property.SetValue(filled, value);
            if (counter.Dropped)
                droppedInKernel += value;
        }
        return filled with { EventsDropped = droppedInKernel + summary.DroppedUnread + summary.DroppedUnwritten };
    }
}
