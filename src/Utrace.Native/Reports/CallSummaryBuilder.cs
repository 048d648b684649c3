using System.Runtime.CompilerServices;
using Utrace.Native.Recording;

namespace Utrace.Native.Reports;

/// <summary>
/// Aggregates calls into one <see cref="FunctionSummary"/> per function (per function and thread
/// with <c>byThread</c>) as they arrive, keeping no event: memory grows with the functions and
/// the call depth, not with the number of calls. Calls come one at a time (<see cref="TracedCall"/>)
/// or a trace file's batch at a time, without an object per call; both give the same summaries.
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
    private readonly List<(string Function, string Module)> _functions = [];
    private readonly Dictionary<ThreadKey, ThreadCalls> _threads = [];
    private Accumulator?[] _accumulators = [];
    private ThreadCalls? _lastThread;
    private TraceContext? _lastContext;
    private int[] _lastContextIds = [];

    public CallSummaryBuilder(bool byThread) => _byThread = byThread;

    public void Add(in TracedCall call) =>
        Add(GetFunctionId(call.Function, call.Module), call.ThreadKey, call.Depth, call.DurationNs, call.SelfNs, call.RawDurationNs, call.OnCpuNs);

    /// <summary>Adds every call of a trace file's record batch, straight from its columns.</summary>
    // The hot path of Measure-UTrace -Path, fully optimized from the first batch: a fresh pwsh would
    // otherwise run the first hundreds of thousands of calls through unoptimized code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(TraceContext context, EventBatch batch)
    {
        var ids = FunctionIdsOf(context);
        var functionIds = batch.FunctionIds;
        var processIds = batch.ProcessIds;
        var threadIds = batch.ThreadIds;
        var depths = batch.Depths;
        var durations = batch.DurationsNs;
        var selfTimes = batch.SelfTimesNs;
        var probeCosts = batch.ProbeCostsNs;
        var selfProbeCosts = batch.SelfProbeCostsNs;
        var host = context.HostName;
        for (var i = 0; i < batch.Length; i++)
        {
            // As TracedCall does: the program's own time, from the measured one and the probes' cost (none in older files).
            var duration = probeCosts.IsEmpty ? durations[i] : ProbeAccount.OwnTime(durations[i], probeCosts[i]);
            var self = selfProbeCosts.IsEmpty ? selfTimes[i] : ProbeAccount.OwnSelfTime(selfTimes[i], selfProbeCosts[i], duration);
            // The program's own on-CPU time, as TracedCall.OnCpuNs takes it.
            var onCpu = batch.RawOnCpuAt(i) is var raw && raw < 0
                ? TracedCall.UnknownOnCpu
                : Math.Min(duration, ProbeAccount.OwnTime(raw, probeCosts.IsEmpty ? 0 : probeCosts[i]));
            Add(ids[functionIds[i]], new ThreadKey(host, processIds[i], threadIds[i]), depths[i], duration, self, durations[i], onCpu);
        }
    }

    /// <summary>The summaries so far, the largest Total first.</summary>
    public IEnumerable<FunctionSummary> Build()
    {
        var tracedNs = _threads.Values.Sum(t => t.TracedNs);
        var summaries = _byThread
            ? _threads.Values.SelectMany(t => t.Accumulators.OfType<Accumulator>().Select(a => a.ToSummary(t.TracedNs)))
            : _accumulators.OfType<Accumulator>().Select(a => a.ToSummary(tracedNs));
        return summaries
            .OrderByDescending(s => s.Total)
            .ThenBy(s => s.Function, StringComparer.Ordinal)
            .ThenBy(s => s.ThreadId);
    }

    // onCpuNs: the program's own on-CPU time; TracedCall.UnknownOnCpu when the call has none.
    private void Add(int functionId, ThreadKey threadKey, int depth, long durationNs, long selfNs, long rawDurationNs, long onCpuNs)
    {
        var thread = GetThread(threadKey);
        var known = onCpuNs >= 0;
        var outermostInside = thread.Complete(functionId, depth, durationNs, known ? onCpuNs : 0, out var spanInside, out var onCpuInside);
        GetAccumulator(thread, functionId).Add(durationNs, selfNs, durationNs - outermostInside, rawDurationNs,
            known ? Math.Max(0, onCpuNs - onCpuInside) : TracedCall.UnknownOnCpu);
        thread.TracedNs += durationNs - spanInside;
    }

    private ThreadCalls GetThread(in ThreadKey threadKey)
    {
        if (_lastThread is { } last && last.Key == threadKey)
            return last;
        if (!_threads.TryGetValue(threadKey, out var thread))
            _threads.Add(threadKey, thread = new ThreadCalls(threadKey));
        return _lastThread = thread;
    }

    private int GetFunctionId(string function, string module)
    {
        if (!_functionIds.TryGetValue((function, module), out var id))
        {
            _functionIds.Add((function, module), id = _functions.Count);
            _functions.Add((function, module));
        }
        return id;
    }

    /// <summary>This builder's id of each function of <paramref name="context"/>'s table (same name and module, same id).</summary>
    private int[] FunctionIdsOf(TraceContext context)
    {
        if (!ReferenceEquals(context, _lastContext))
        {
            _lastContextIds = context.Functions.Select(f => GetFunctionId(f.Name, f.Module)).ToArray();
            _lastContext = context;
        }
        return _lastContextIds;
    }

    private Accumulator GetAccumulator(ThreadCalls thread, int functionId)
    {
        ref var accumulators = ref _byThread ? ref thread.Accumulators : ref _accumulators;
        if (functionId >= accumulators.Length)
            Array.Resize(ref accumulators, Math.Max(functionId + 1, 2 * accumulators.Length));
        return accumulators[functionId] ??= new Accumulator(_functions[functionId].Function, _functions[functionId].Module, _byThread ? thread.ThreadId : null);
    }

    /// <summary>
    /// One thread's calls, which arrive in completion order: a callee before its caller. A call
    /// completing at depth d encloses the calls completed before it that now sit deeper than d.
    /// Where a completed call sits is its depth, lowered by every call completed after it at a
    /// smaller depth (its caller, or a caller's caller): its level. The low-water calls
    /// answers that for any call from the depths of the calls completed since.
    /// </summary>
    private sealed class ThreadCalls(ThreadKey key)
    {
        private readonly NestedTime _tops = new();
        private NestedTime?[] _byFunction = [];
        private long _completed;

        // Each completed call shallower than every call completed after it, as (sequence number,
        // depth): depths rise towards the end, so there is at most one per depth.
        private long[] _lowWaterSequences = new long[8];
        private int[] _lowWaterDepths = new int[8];
        private int _lowWaterCount;

        public Accumulator?[] Accumulators = [];

        public ThreadKey Key { get; } = key;
        public int ThreadId => Key.ThreadId;

        /// <summary>Sum of the durations of the thread's outermost calls.</summary>
        public long TracedNs { get; set; }

        /// <summary>
        /// Takes a completed call: returns the summed durations of the outermost calls of the same
        /// function it encloses (their on-CPU time in <paramref name="sameOnCpuInside"/>), and in
        /// <paramref name="topsInside"/> those of the calls directly inside it (its traced children,
        /// or deeper calls whose caller was not reported).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public long Complete(int functionId, int depth, long durationNs, long onCpuNs, out long topsInside, out long sameOnCpuInside)
        {
            var sequence = ++_completed;
            topsInside = _tops.Enclose(this, sequence, depth, durationNs, 0, out _);
            if (functionId >= _byFunction.Length)
                Array.Resize(ref _byFunction, Math.Max(functionId + 1, 2 * _byFunction.Length));
            var sameInside = (_byFunction[functionId] ??= new NestedTime()).Enclose(this, sequence, depth, durationNs, onCpuNs, out sameOnCpuInside);

            var count = _lowWaterCount;
            while (count > 0 && _lowWaterDepths[count - 1] >= depth)
                count--;
            if (count == _lowWaterSequences.Length)
            {
                Array.Resize(ref _lowWaterSequences, 2 * count);
                Array.Resize(ref _lowWaterDepths, 2 * count);
            }
            _lowWaterSequences[count] = sequence;
            _lowWaterDepths[count] = depth;
            _lowWaterCount = count + 1;
            return sameInside;
        }

        /// <summary>The level of the call completed as number <paramref name="sequence"/> at <paramref name="depth"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int LevelOf(long sequence, int depth)
        {
            // The first low-water call after this one is the shallowest completed since. It is
            // usually among the last few: look there first, then search the rest.
            var count = _lowWaterCount;
            if (count == 0 || _lowWaterSequences[count - 1] <= sequence)
                return depth;
            var first = count - 1;
            for (var steps = 0; steps < 4 && first > 0; steps++, first--)
            {
                if (_lowWaterSequences[first - 1] <= sequence)
                    return Math.Min(depth, _lowWaterDepths[first]);
            }
            int low = 0, high = first;
            while (low < high)
            {
                var middle = (low + high) >>> 1;
                if (_lowWaterSequences[middle] <= sequence)
                    low = middle + 1;
                else
                    high = middle;
            }
            return Math.Min(depth, _lowWaterDepths[low]);
        }
    }

    /// <summary>
    /// Durations (and on-CPU times) of completed calls (of one function, or of every function) that no completed call
    /// of the same kind encloses yet, summed per level. Levels only fall, and entries at one level
    /// stay at one level, so they are merged: at most one entry per depth.
    /// </summary>
    private sealed class NestedTime
    {
        private (long Sequence, int Depth, long Ns, long OnCpuNs)[] _entries = new (long, int, long, long)[4];
        private int _count;

        /// <summary>Takes a call completing at <paramref name="depth"/>: returns the time of the entries it
        /// encloses (those now below its depth), their on-CPU time in <paramref name="onCpuInside"/>, and keeps
        /// its own in their place.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public long Enclose(ThreadCalls thread, long sequence, int depth, long durationNs, long onCpuNs, out long onCpuInside)
        {
            long inside = 0;
            onCpuInside = 0;
            var topLevel = int.MinValue;
            while (_count > 0)
            {
                ref readonly var top = ref _entries[_count - 1];
                topLevel = thread.LevelOf(top.Sequence, top.Depth);
                if (topLevel <= depth)
                    break;
                inside += top.Ns;
                onCpuInside += top.OnCpuNs;
                _count--;
            }
            // A caller's completion lowers the entries below it to one level: merge them.
            while (_count > 1)
            {
                ref var below = ref _entries[_count - 2];
                if (thread.LevelOf(below.Sequence, below.Depth) != topLevel)
                    break;
                below.Ns += _entries[_count - 1].Ns;
                below.OnCpuNs += _entries[--_count].OnCpuNs;
            }
            if (_count > 0 && topLevel == depth)
            {
                _entries[_count - 1].Ns += durationNs;
                _entries[_count - 1].OnCpuNs += onCpuNs;
                return inside;
            }
            if (_count == _entries.Length)
                Array.Resize(ref _entries, 2 * _count);
            _entries[_count++] = (sequence, depth, durationNs, onCpuNs);
            return inside;
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
        private long _rawSumNs;
        private long _onCpuNs;
        private bool _onCpuKnown;

        // outermostOnCpuNs: the call's on-CPU time less that of the function's calls inside it; negative: unknown.
        public void Add(long durationNs, long selfNs, long outermostNs, long rawDurationNs, long outermostOnCpuNs)
        {
            _calls++;
            if (outermostOnCpuNs >= 0)
            {
                _onCpuNs += outermostOnCpuNs;
                _onCpuKnown = true;
            }
            _rawSumNs += rawDurationNs;
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
            Percent(_totalNs, tracedNs), Percent(_selfNs, tracedNs))
        {
            ProbeCost = Duration.FromNanoseconds(_rawSumNs - _sumNs),
            ProbeDominated = ProbeAccount.Dominated(_rawSumNs - _sumNs, _rawSumNs),
            OnCpu = _onCpuKnown ? Duration.FromNanoseconds(_onCpuNs) : null,
        };

        private static double Percent(long part, long whole) => whole == 0 ? 0 : Math.Round(100.0 * part / whole, 2);
    }
}
