using Utrace.Native.Bpf;

namespace Utrace.Native.Tracing;

/// <summary>
/// Watches what each function's probes cost while a trace runs: from the kernel's count of each function's entry hits
/// and the calibration's cost per hit, against the CPU time the program has run (a probe's cost is CPU time its thread
/// spends in the kernel; wall time would count what other processes take of a busy machine). Once, after
/// <see cref="AdviseAfterMs"/> of the program's CPU time, it warns when the probes of a few functions dominate that time; with a
/// <see cref="ProbeBudget"/>, it stops probing each function that goes over it.
/// </summary>
internal sealed class ProbeCostWatch : IDisposable
{
    /// <summary>
    /// The advisor waits until the program has used this much CPU time: its start says little about where its time goes,
    /// and a short run, however slowed by its probes (or by a busy machine), needs no advice.
    /// </summary>
    public const int AdviseAfterMs = 2000;
    private const int AdvisorPeriodMs = 500;
    // A budget is kept at this pace: a function making 100,000 probed calls a second costs that much more per check.
    private const int BudgetPeriodMs = 25;

    private readonly object _lock = new();
    private readonly TraceProgram _program;
    private readonly ProbeSet _probes;
    private readonly IReadOnlyList<FunctionInfo> _functions;
    private readonly long[] _costPerCall;
    private readonly ProbeBudget? _budget;
    private readonly Action<string> _warn;
    private readonly ulong[] _hits;
    private readonly ulong[] _scratch = new ulong[TraceProgram.HitsScratchLength];
    private readonly int _processId;
    private readonly long _cpuAtStart;
    private readonly List<DroppedFunction> _dropped = new();
    private readonly List<int> _droppedIds = new();
    private readonly HashSet<int> _decided = new();
    private readonly Timer _timer;
    private bool _stopped;

    private ProbeCostWatch(int processId, TraceProgram program, ProbeSet probes, IReadOnlyList<FunctionInfo> functions, ProbeCalibration calibration,
        ProbeBudget? budget, Action<string> warn)
    {
        _processId = processId;
        _cpuAtStart = ProcFs.CpuTimeNs(processId) ?? 0;
        _program = program;
        _probes = probes;
        // Functions added later (-Follow, libraries loaded later) are not watched: their probes are other sets'.
        _functions = functions.ToArray();
        _costPerCall = _functions.Select(f => calibration.PerCallNs[(int)HitOf(f)]).ToArray();
        _hits = new ulong[_functions.Count];
        _budget = budget;
        _warn = warn;
        var period = budget is null ? AdvisorPeriodMs : BudgetPeriodMs;
        _timer = new Timer(_ => Check(), null, budget is null ? AdviseAfterMs : period, period);
    }

    /// <summary>Starts watching the probes of <paramref name="functions"/> in process <paramref name="processId"/>, whose probe set is <paramref name="probes"/>.</summary>
    public static ProbeCostWatch Start(int processId, TraceProgram program, ProbeSet probes, IReadOnlyList<FunctionInfo> functions, ProbeCalibration calibration,
        ProbeBudget? budget, Action<string> warn) => new(processId, program, probes, functions, calibration, budget, warn);

    /// <summary>The functions dropped under the budget, in the order they were.</summary>
    public IReadOnlyList<DroppedFunction> Dropped
    {
        get
        {
            lock (_lock)
                return _dropped.ToArray();
        }
    }

    /// <summary>Stops watching; a check under way finishes first. Call before the probes are detached.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _stopped = true;
            _timer.Dispose();
        }
    }

    /// <summary>
    /// Once the probes are detached: each dropped function's calls are what the kernel counted of it (it stops counting a
    /// function at its drop), every one traced, not what the check that dropped it had read.
    /// </summary>
    public void SettleCounts()
    {
        lock (_lock)
        {
            if (_dropped.Count == 0)
                return;
            _program.ReadFunctionHits(_hits, _scratch);
            for (var i = 0; i < _dropped.Count; i++)
                _dropped[i] = _dropped[i] with { Calls = (long)_hits[_droppedIds[i]] };
        }
    }

    private void Check()
    {
        lock (_lock)
        {
            if (_stopped)
                return;
            // A program that has exited has nothing more to advise or drop.
            if (ProcFs.CpuTimeNs(_processId) is not { } cpuNs)
                return;
            var elapsedNs = cpuNs - _cpuAtStart;
            try
            {
                _program.ReadFunctionHits(_hits, _scratch);
            }
            catch (UtraceException ex)
            {
                _stopped = true;
                _warn($"Probe costs are no longer watched: {ex.Message}");
                return;
            }
            var costs = new FunctionProbeCost[_hits.Length];
            for (var id = 0; id < costs.Length; id++)
                costs[id] = new FunctionProbeCost(id, (long)_hits[id], (long)_hits[id] * _costPerCall[id]);
            if (_budget is not null)
                KeepBudget(costs, elapsedNs);
            else if (elapsedNs >= AdviseAfterMs * 1_000_000L)
                Advise(costs, elapsedNs);
        }
    }

    // A trace under a budget already leaves out what dominates: only a trace without one is advised.
    private void Advise(FunctionProbeCost[] costs, long elapsedNs)
    {
        var dominating = ProbeCostAdvice.Dominating(costs, elapsedNs);
        if (dominating.Count == 0)
            return;
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        _warn(ProbeCostAdvice.Warning(dominating, _functions, elapsedNs));
    }

    private void KeepBudget(FunctionProbeCost[] costs, long elapsedNs)
    {
        if (elapsedNs <= 0)
            return;
        var ownNs = ProbeCostAdvice.OwnTimeNs(costs, elapsedNs);
        foreach (var over in ProbeCostAdvice.OverBudget(costs, ownNs, _budget!, _decided.Contains).ToArray())
        {
            _decided.Add(over.FunctionId);
            // A function whose probes are not in this set's links of its own (added later) stays.
            if (!_probes.Drop(over.FunctionId, _program))
                continue;
            _droppedIds.Add(over.FunctionId);
            _dropped.Add(new DroppedFunction(_functions[over.FunctionId].Name, DateTime.Now, over.Calls, 100.0 * over.CostNs / ownNs));
        }
    }

    // A probe on a GOT call site, or never placed, is single-stepped.
    private static ProbeHitKind HitOf(FunctionInfo function) =>
        function.EntryProbe is { } kind && !function.CalledOnlyThroughGot ? ProbeCalibration.HitOf(kind) : ProbeHitKind.SingleStepped;
}
