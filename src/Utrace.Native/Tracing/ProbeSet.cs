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
    // A thread that closes a link makes one system call.
    private const int ClosingThreadStack = 128 * 1024;

    private readonly List<SafeHandle> _links = new();
    private readonly List<SafeHandle> _returnLinks = new();
    private readonly List<SafeBpfLinkHandle> _unwindLinks = new();
    private readonly Dictionary<int, string> _refused = new();
    // With links of each function's own (a budget may drop it): its links, by function id.
    private readonly Dictionary<int, List<SafeHandle>> _functionLinks = new();
    private readonly List<Thread> _dropping = new();
    private bool _linksPerFunction;
    private readonly IProgress<TraceProgress>? _progress;
    private int _total;

    private ProbeSet(IProgress<TraceProgress>? progress) => _progress = progress;

    /// <summary>Links (or perf-event uprobes) created.</summary>
    public int LinkCount { get; private set; }

    /// <summary>The links of the C++ unwinder's hooks (utrace-guard keeps them past the tracer's end).</summary>
    public IReadOnlyList<SafeBpfLinkHandle> UnwindLinks => _unwindLinks;

    /// <summary>Functions the kernel refused to probe, by id, with the reason.</summary>
    public IReadOnlyDictionary<int, string> Refused => _refused;

    /// <summary>
    /// Attaches the plan's probes and the unwinder's hooks. With <paramref name="linksPerFunction"/>, each function's
    /// probes get links of their own, so that <see cref="Drop"/> can take them away alone (more links, so a slower
    /// attach); else one link per binary and kind.
    /// </summary>
    public static ProbeSet Attach(TraceProgram program, int pid, ProbePlan plan, IReadOnlyList<UnwindHook> hooks,
        IProgress<TraceProgress>? progress, bool linksPerFunction = false)
    {
        var probes = new ProbeSet(progress) { _linksPerFunction = linksPerFunction };
        try
        {
            var unwind = hooks.Select(h => new ProbeSite(ProbeKind.Unwind, h.Path, h.Offset, h.Cookie));
            var sites = program.Mode == AttachMode.Session ? AsSessions(plan.Sites) : plan.Sites;
            // The unwinder's hooks first: a return probe must never be in place without them (a
            // process that throws during the attach would abort). Then entries: a function whose
            // entry is refused gets no other probe.
            var groups = sites.Concat(unwind)
                .GroupBy(site => (site.Kind, site.Path, Function: linksPerFunction && site.Kind != ProbeKind.Unwind ? site.FunctionId : -1))
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
            Add(sites[0], kind == ProbeKind.Session
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
            Add(site, program.AttachSingle(site.Kind, -1, site.Path, (nuint)site.Offset, site.Cookie));
            _progress?.Report(new TraceProgress(TraceStage.Attaching, _links.Count, _total));
        }
        catch (UtraceException ex) when (IsRefusedInstruction(ex))
        {
            Refuse(site, ex);
        }
    }

    // A site stands for the link's: with links per function, they are all one function's.
    private void Add(ProbeSite site, SafeHandle link)
    {
        var kind = site.Kind;
        _links.Add(link);
        if (_linksPerFunction && kind != ProbeKind.Unwind)
        {
            if (!_functionLinks.TryGetValue(site.FunctionId, out var own))
                _functionLinks[site.FunctionId] = own = new List<SafeHandle>(2);
            own.Add(link);
        }
        if (link is SafeBpfLinkHandle libbpfLink && kind == ProbeKind.Unwind)
            _unwindLinks.Add(libbpfLink);
        else if (kind is ProbeKind.Uretprobe or ProbeKind.Session)
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
            .Where(site => site.Kind != ProbeKind.Uretprobe || sleepable.Contains(site.FunctionId))
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
    /// Stops probing one function, attached with links of its own: from now on the BPF programs ignore its new calls,
    /// and after <see cref="PendingCallsGraceMs"/> its links are closed, on a thread of their own (a close waits in the
    /// kernel for as long as return probes keep firing). Its calls under way by then return to its probes and are
    /// reported as usual. False when this set holds no links of the function's own.
    /// </summary>
    public bool Drop(int functionId, TraceProgram program)
    {
        if (!_functionLinks.Remove(functionId, out var links))
            return false;
        program.MarkDropped(functionId);
        // Return probes first, as when the trace ends.
        var ordered = links.OrderBy(link => _returnLinks.Contains(link) ? 0 : 1).ToArray();
        foreach (var link in links)
        {
            _links.Remove(link);
            _returnLinks.Remove(link);
        }
        var closing = new Thread(() =>
        {
            Thread.Sleep(PendingCallsGraceMs);
            foreach (var link in ordered)
                link.Dispose();
        }, ClosingThreadStack) { IsBackground = true, Name = "utrace drop" };
        closing.Start();
        _dropping.Add(closing);
        return true;
    }

    /// <summary>How long a dropped function's probes stay for the calls it had under way: a function a budget drops makes short calls.</summary>
    public const int PendingCallsGraceMs = 100;

    /// <summary>Detaches everything (see <see cref="DetachTogether"/>).</summary>
    public void Dispose() => DetachTogether([this], [], _progress);

    /// <summary>
    /// Detaches several sets (the trace's processes) and other links at once. Return probes (and
    /// sessions) go first, since a return probe whose entry probe is gone would swap a return address nobody
    /// records, out of reach of the exception hooks. Every link of a phase is closed on a thread
    /// of its own, all at the same time: each close waits in the kernel until no return probe
    /// anywhere still holds its grace period, and a process that keeps making traced calls
    /// inside a long one holds it for as long as any return link still fires for it (the kernel
    /// releases a pending return probe only after 100 ms without a new one in that thread). Closed
    /// some at a time, the links still open would keep that going and the closes started would
    /// wait for good. Without <paramref name="returnsFirst"/> (a process that has exec'd, where
    /// the program they probed no longer runs) every link closes in one phase.
    /// </summary>
    public static void DetachTogether(IReadOnlyCollection<ProbeSet> sets, IReadOnlyCollection<SafeBpfLinkHandle> others,
        IProgress<TraceProgress>? progress, bool returnsFirst = true)
    {
        var returns = sets.SelectMany(set => set._returnLinks).ToArray();
        var rest = sets.SelectMany(set => set._links.Except(set._returnLinks)).Concat(others).ToArray();
        var closed = 0;
        var total = returns.Length + rest.Length;
        progress?.Report(new TraceProgress(TraceStage.Detaching, 0, total));
        foreach (var phase in returnsFirst ? new[] { returns, rest } : [[.. returns, .. rest]])
        {
            var closing = phase.Select(link => new Thread(() =>
            {
                link.Dispose();
                progress?.Report(new TraceProgress(TraceStage.Detaching, Interlocked.Increment(ref closed), total));
            }, ClosingThreadStack) { IsBackground = true, Name = "utrace link close" }).ToArray();
            foreach (var thread in closing)
                thread.Start();
            foreach (var thread in closing)
                thread.Join();
        }
        // A dropped function's links close once no return probe still fires: now.
        foreach (var thread in sets.SelectMany(set => set._dropping))
            thread.Join();
        foreach (var set in sets)
        {
            set._dropping.Clear();
            set._functionLinks.Clear();
            set._links.Clear();
            set._returnLinks.Clear();
            set._unwindLinks.Clear();
        }
    }
}
