using Utrace.Native.Bpf;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Tracing;

/// <summary>
/// The probes of one trace: entry and return probes on the traced functions, whose index in
/// the list is the probe cookie the BPF program reports as the function id, and entry probes on
/// the C++ unwinder's hooks. Disposing detaches all; a failed attach detaches what it had
/// attached before the error is thrown.
/// </summary>
internal sealed class ProbeSet : IDisposable
{
    private readonly List<SafeBpfLinkHandle> _links = new();
    private readonly IProgress<TraceProgress>? _progress;

    private ProbeSet(IProgress<TraceProgress>? progress) => _progress = progress;

    /// <summary>Links (or perf-event uprobes) created.</summary>
    public int LinkCount { get; private set; }

    public static ProbeSet Attach(TraceProgram program, int pid, IReadOnlyList<FunctionInfo> functions, IReadOnlyList<UnwindHook> hooks,
        IProgress<TraceProgress>? progress)
    {
        var probes = new ProbeSet(progress);
        try
        {
            var traced = functions.Select((f, id) => (f.Path, f.Offset, Cookie: (ulong)id)).ToArray();
            var unwind = hooks.Select(h => (h.Path, h.Offset, Cookie: (ulong)h.Cookie)).ToArray();
            var total = program.Mode == AttachMode.MultiLink
                ? 2 * traced.Select(p => p.Path).Distinct().Count() + unwind.Select(p => p.Path).Distinct().Count()
                : 2 * traced.Length + unwind.Length;
            progress?.Report(new TraceProgress(TraceStage.Attaching, 0, total));
            probes.AttachAll(program, pid, ProbeKind.Entry, traced, total);
            probes.AttachAll(program, pid, ProbeKind.Return, traced, total);
            probes.AttachAll(program, pid, ProbeKind.Unwind, unwind, total);
            probes.LinkCount = probes._links.Count;
            return probes;
        }
        catch
        {
            probes.Dispose();
            throw;
        }
    }

    private void AttachAll(TraceProgram program, int pid, ProbeKind kind, (string Path, ulong Offset, ulong Cookie)[] probes, int total)
    {
        if (program.Mode == AttachMode.MultiLink)
        {
            foreach (var binary in probes.GroupBy(p => p.Path))
            {
                var offsets = binary.Select(p => (nuint)p.Offset).ToArray();
                var cookies = binary.Select(p => p.Cookie).ToArray();
                _links.Add(program.AttachMulti(kind, pid, binary.Key, offsets, cookies));
                _progress?.Report(new TraceProgress(TraceStage.Attaching, _links.Count, total));
            }
            return;
        }
        // A perf-event uprobe given a pid sees only that one thread: attach to every process
        // and let the BPF side keep the target's.
        foreach (var (path, offset, cookie) in probes)
        {
            _links.Add(program.AttachSingle(kind, -1, path, (nuint)offset, cookie));
            _progress?.Report(new TraceProgress(TraceStage.Attaching, _links.Count, total));
        }
    }

    /// <summary>
    /// Detaches everything. Each link waits in the kernel for probe users to drain (tens of
    /// milliseconds, not CPU), so the links are closed side by side.
    /// </summary>
    public void Dispose()
    {
        var closed = 0;
        _progress?.Report(new TraceProgress(TraceStage.Detaching, 0, _links.Count));
        Parallel.ForEach(_links, new ParallelOptions { MaxDegreeOfParallelism = 16 }, link =>
        {
            link.Dispose();
            _progress?.Report(new TraceProgress(TraceStage.Detaching, Interlocked.Increment(ref closed), _links.Count));
        });
        _links.Clear();
    }
}
