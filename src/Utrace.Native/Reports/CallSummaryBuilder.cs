namespace Utrace.Native.Reports;

/// <summary>
/// Aggregates calls into one <see cref="FunctionSummary"/> per function (per function and thread
/// with <c>byThread</c>) as they arrive, keeping no event: memory grows with the functions and
/// the call depth, not with the number of calls.
/// </summary>
/// <remarks>
/// Total counts the time of a function's outermost calls only: a call nested inside another
/// call of the same function (recursion, direct or not) is already inside that one's duration,
/// as uftrace's report does. Percentages are of the traced time: the summed durations of the
/// outermost calls of every thread (of the thread, with <c>byThread</c>), so a single-threaded
/// program's outermost function is at 100% and Self percentages add up to 100%.
/// </remarks>
internal sealed class CallSummaryBuilder
{
    private readonly bool _byThread;
    private readonly Dictionary<(string Function, string Module), int> _functionIds = [];
    private readonly Dictionary<(long Thread, int FunctionId), Accumulator> _functions = [];
    private readonly Dictionary<long, ThreadState> _threads = [];
    private readonly List<Subtree> _taken = [];

    public CallSummaryBuilder(bool byThread) => _byThread = byThread;

    public void Add(in CallSample call)
    {
        var thread = GetThread(call);
        var functionId = GetFunctionId(call.Function, call.Module);
        var stats = GetAccumulator(call, functionId);

        thread.Pending.TakeDeeperThan(call.Depth, _taken);
        var subtree = _taken.Count == 0 ? new Subtree() : _taken.Aggregate(Subtree.Merge);
        stats.Add(call.DurationNs, call.SelfNs, call.DurationNs - subtree.OutermostNs.GetValueOrDefault(functionId));
        thread.TracedNs += call.DurationNs - subtree.SpanNs;

        subtree.OutermostNs[functionId] = call.DurationNs;
        subtree.SpanNs = call.DurationNs;
        thread.Pending.Put(call.Depth, subtree);
    }

    /// <summary>The summaries so far, the largest Total first.</summary>
    public IEnumerable<FunctionSummary> Build()
    {
        var tracedNs = _threads.Values.Sum(t => t.TracedNs);
        return _functions
            .Select(entry => entry.Value.ToSummary(_byThread ? _threads[entry.Key.Thread].TracedNs : tracedNs))
            .OrderByDescending(s => s.Total)
            .ThenBy(s => s.Function, StringComparer.Ordinal)
            .ThenBy(s => s.ThreadId);
    }

    private ThreadState GetThread(in CallSample call)
    {
        if (!_threads.TryGetValue(call.ThreadKey, out var thread))
            _threads.Add(call.ThreadKey, thread = new ThreadState());
        return thread;
    }

    private int GetFunctionId(string function, string module)
    {
        if (!_functionIds.TryGetValue((function, module), out var id))
            _functionIds.Add((function, module), id = _functionIds.Count);
        return id;
    }

    private Accumulator GetAccumulator(in CallSample call, int functionId)
    {
        var key = (_byThread ? call.ThreadKey : 0, functionId);
        if (!_functions.TryGetValue(key, out var stats))
            _functions.Add(key, stats = new Accumulator(call.Function, call.Module, _byThread ? call.ThreadId : null));
        return stats;
    }

    private sealed class ThreadState
    {
        public CompletionStack<Subtree> Pending { get; } = new(Subtree.Merge);

        /// <summary>Sum of the durations of the thread's outermost calls.</summary>
        public long TracedNs { get; set; }
    }

    /// <summary>What the completed calls of one depth enclose, for the caller that will take them.</summary>
    private sealed class Subtree
    {
        /// <summary>Per function, the summed durations of its outermost calls in the subtree.</summary>
        public Dictionary<int, long> OutermostNs { get; } = [];

        /// <summary>Summed durations of the subtree's top calls.</summary>
        public long SpanNs { get; set; }

        public static Subtree Merge(Subtree into, Subtree other)
        {
            foreach (var (id, ns) in other.OutermostNs)
                into.OutermostNs[id] = into.OutermostNs.GetValueOrDefault(id) + ns;
            into.SpanNs += other.SpanNs;
            return into;
        }
    }

    private sealed class Accumulator(string function, string module, int? threadId)
    {
        private long _calls;
        private long _totalNs;
        private long _selfNs;
        private long _sumNs;
        private long _minNs = long.MaxValue;
        private long _maxNs = long.MinValue;

        public void Add(long durationNs, long selfNs, long outermostNs)
        {
            _calls++;
            _totalNs += outermostNs;
            _selfNs += selfNs;
            _sumNs += durationNs;
            _minNs = Math.Min(_minNs, durationNs);
            _maxNs = Math.Max(_maxNs, durationNs);
        }

        public FunctionSummary ToSummary(long tracedNs) => new(
            function, module, threadId, _calls,
            Duration.FromNanoseconds(_totalNs), Duration.FromNanoseconds(_selfNs),
            Duration.FromNanoseconds(_sumNs / _calls), Duration.FromNanoseconds(_minNs), Duration.FromNanoseconds(_maxNs),
            Percent(_totalNs, tracedNs), Percent(_selfNs, tracedNs));

        private static double Percent(long part, long whole) => whole == 0 ? 0 : Math.Round(100.0 * part / whole, 2);
    }
}
