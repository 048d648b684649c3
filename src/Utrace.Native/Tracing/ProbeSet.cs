using System.Runtime.InteropServices;
using Utrace.Native.Bpf;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Tracing;

/// <summary>
/// The probes of one trace, attached from a <see cref="ProbePlan"/> plus entry probes on the C++
/// unwinder's hooks. A function whose instruction the kernel refuses to probe is left out (and
/// named in <see cref="Refused"/>) instead of failing the trace. Disposing detaches all; a failed
/// attach detaches what it had attached before the error is thrown.
/// </summary>
internal sealed class ProbeSet : IDisposable
{
    // The kernel's ENOTSUPP (an instruction it cannot probe) and ENOEXEC (one it cannot decode).
    private const int ENOTSUPP = 524;
    private const int ENOEXEC = 8;

    private readonly List<SafeHandle> _links = new();
    private readonly List<SafeHandle> _returnLinks = new();
    private readonly List<SafeBpfLinkHandle> _unwindLinks = new();
    private readonly Dictionary<int, string> _refused = new();
    private readonly IProgress<TraceProgress>? _progress;
    private int _total;

    private ProbeSet(IProgress<TraceProgress>? progress) => _progress = progress;

    /// <summary>Links (or perf-event uprobes) created.</summary>
    public int LinkCount { get; private set; }

    /// <summary>The links of the C++ unwinder's hooks (utrace-guard keeps them past the tracer's end).</summary>
    public IReadOnlyList<SafeBpfLinkHandle> UnwindLinks => _unwindLinks;

    /// <summary>Functions the kernel refused to probe, by id, with the reason.</summary>
    public IReadOnlyDictionary<int, string> Refused => _refused;

    public static ProbeSet Attach(TraceProgram program, int pid, ProbePlan plan, IReadOnlyList<UnwindHook> hooks,
        IProgress<TraceProgress>? progress)
    {
        var probes = new ProbeSet(progress);
        try
        {
            var unwind = hooks.Select(h => new ProbeSite(ProbeKind.Unwind, h.Path, h.Offset, h.Cookie));
            var sites = program.Mode == AttachMode.Session ? AsSessions(plan.Sites) : plan.Sites;
            // The unwinder's hooks first: a return probe must never be in place without them (a
            // process that throws during the attach would abort). Then entries: a function whose
            // entry is refused gets no other probe.
            var groups = sites.Concat(unwind)
                .GroupBy(site => (site.Kind, site.Path))
                .OrderBy(group => group.Key.Kind == ProbeKind.Unwind ? -1 : (int)group.Key.Kind)
                .ToArray();
            probes._total = program.Mode == AttachMode.PerFunction ? plan.Sites.Count + hooks.Count : groups.Length;
            progress?.Report(new TraceProgress(TraceStage.Attaching, 0, probes._total));
            foreach (var group in groups)
            {
                var kept = group.Where(site => site.Kind == ProbeKind.Unwind || !probes._refused.ContainsKey(site.FunctionId)).ToArray();
                if (program.Mode == AttachMode.PerFunction)
                    foreach (var site in kept)
                        probes.AttachAlone(program, site);
                else
                    probes.AttachTogether(program, pid, kept);
            }
            probes.LinkCount = probes._links.Count;
            return probes;
        }
        catch
        {
            probes.Dispose();
            throw;
        }
    }

    /// <summary>One multi-uprobe link for the sites; if the kernel refuses one of them, halves until it is found.</summary>
    private void AttachTogether(TraceProgram program, int pid, ReadOnlySpan<ProbeSite> sites)
    {
        if (sites.Length == 0)
            return;
        var offsets = new nuint[sites.Length];
        var cookies = new ulong[sites.Length];
        for (var i = 0; i < sites.Length; i++)
            (offsets[i], cookies[i]) = ((nuint)sites[i].Offset, sites[i].Cookie);
        try
        {
            var kind = sites[0].Kind;
            Add(kind, kind == ProbeKind.Session
                ? program.AttachSessions(pid, sites[0].Path, offsets, cookies)
                : program.AttachMulti(kind, pid, sites[0].Path, offsets, cookies));
            _progress?.Report(new TraceProgress(TraceStage.Attaching, _links.Count, _total));
        }
        catch (UtraceException ex) when (IsRefusedInstruction(ex) && sites.Length > 1)
        {
            AttachTogether(program, pid, sites[..(sites.Length / 2)]);
            AttachTogether(program, pid, sites[(sites.Length / 2)..]);
        }
        catch (UtraceException ex) when (IsRefusedInstruction(ex))
        {
            Refuse(sites[0], ex);
        }
    }

    // A perf-event uprobe given a pid sees only that one thread: attach to every process and let
    // the BPF side keep the target's.
    private void AttachAlone(TraceProgram program, ProbeSite site)
    {
        try
        {
            Add(site.Kind, program.AttachSingle(site.Kind, -1, site.Path, (nuint)site.Offset, site.Cookie));
            _progress?.Report(new TraceProgress(TraceStage.Attaching, _links.Count, _total));
        }
        catch (UtraceException ex) when (IsRefusedInstruction(ex))
        {
            Refuse(site, ex);
        }
    }

    private void Add(ProbeKind kind, SafeHandle link)
    {
        _links.Add(link);
        if (link is SafeBpfLinkHandle libbpfLink && kind == ProbeKind.Unwind)
            _unwindLinks.Add(libbpfLink);
        else if (kind is ProbeKind.Return or ProbeKind.Session)
            _returnLinks.Add(link);
    }

    /// <summary>
    /// The plan's sites for session links: a function's entry and uretprobe become one session probe,
    /// whose entry decides whether the kernel sets the return probe (an entry-only function's never).
    /// A sleepable entry (it reads strings) keeps its pair: session programs here are not sleepable.
    /// </summary>
    private static List<ProbeSite> AsSessions(IReadOnlyList<ProbeSite> sites)
    {
        var sleepable = sites.Where(site => site.Kind == ProbeKind.EntryFaulting).Select(site => site.FunctionId).ToHashSet();
        return sites
            .Where(site => site.Kind != ProbeKind.Return || sleepable.Contains(site.FunctionId))
            .Select(site => site.Kind == ProbeKind.Entry ? site with { Kind = ProbeKind.Session } : site)
            .ToList();
    }

    private void Refuse(ProbeSite site, UtraceException ex)
    {
        // The unwinder hooks are what keep exceptions alive: never trace without them.
        if (site.Kind == ProbeKind.Unwind)
            throw ex;
        _refused.TryAdd(site.FunctionId, site.Kind is ProbeKind.Entry or ProbeKind.Session or ProbeKind.EntryFaulting
            ? "the kernel refused to probe its first instruction"
            : $"the kernel refused to probe its instruction at 0x{site.Offset:x}");
    }

    private static bool IsRefusedInstruction(UtraceException ex) => ex.Errno is ENOTSUPP or ENOEXEC;

    /// <summary>
    /// Detaches everything: return probes (and sessions) first, since a return probe whose entry probe is gone
    /// would swap a return address nobody records, out of reach of the exception hooks. Each
    /// link waits in the kernel for probe users to drain (tens of milliseconds, not CPU), so the
    /// links of each phase are closed side by side.
    /// </summary>
    public void Dispose()
    {
        var closed = 0;
        var total = _links.Count;
        _progress?.Report(new TraceProgress(TraceStage.Detaching, 0, total));
        var rest = _links.Except(_returnLinks).ToArray();
        foreach (var phase in new[] { _returnLinks.ToArray(), rest })
        {
            Parallel.ForEach(phase, new ParallelOptions { MaxDegreeOfParallelism = 16 }, link =>
            {
                link.Dispose();
                _progress?.Report(new TraceProgress(TraceStage.Detaching, Interlocked.Increment(ref closed), total));
            });
        }
        _links.Clear();
        _returnLinks.Clear();
        _unwindLinks.Clear();
    }
}
