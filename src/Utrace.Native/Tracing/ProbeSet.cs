using Utrace.Native.Bpf;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Tracing;

/// <summary>
/// The entry and return probes of one trace. Each function's index in the list is its probe
/// cookie, which the BPF program reports as the event's function id. Disposing detaches all;
/// a failed attach detaches what it had attached before the error is thrown.
/// </summary>
internal sealed class ProbeSet : IDisposable
{
    private readonly List<SafeBpfLinkHandle> _links = new();

    private ProbeSet() { }

    public int LinkCount => _links.Count;

    public static ProbeSet Attach(TraceProgram program, int pid, IReadOnlyList<FunctionInfo> functions)
    {
        var probes = new ProbeSet();
        try
        {
            // Multi links filter on the process themselves; per-function uprobes with a pid would
            // see only that one thread, so they attach to all processes and the BPF side filters.
            if (program.Mode == AttachMode.MultiLink)
                probes.AttachMulti(program, pid, functions);
            else
                probes.AttachPerFunction(program, functions);
            return probes;
        }
        catch
        {
            probes.Dispose();
            throw;
        }
    }

    private void AttachMulti(TraceProgram program, int pid, IReadOnlyList<FunctionInfo> functions)
    {
        foreach (var binary in Enumerable.Range(0, functions.Count).GroupBy(i => functions[i].Path))
        {
            var ids = binary.ToArray();
            var offsets = Array.ConvertAll(ids, i => (nuint)functions[i].Offset);
            var cookies = Array.ConvertAll(ids, i => (ulong)i);
            _links.Add(program.AttachMulti(pid, binary.Key, offsets, cookies, retprobe: false));
            _links.Add(program.AttachMulti(pid, binary.Key, offsets, cookies, retprobe: true));
        }
    }

    private void AttachPerFunction(TraceProgram program, IReadOnlyList<FunctionInfo> functions)
    {
        for (var i = 0; i < functions.Count; i++)
        {
            var f = functions[i];
            _links.Add(program.AttachSingle(-1, f.Path, (nuint)f.Offset, (ulong)i, retprobe: false));
            _links.Add(program.AttachSingle(-1, f.Path, (nuint)f.Offset, (ulong)i, retprobe: true));
        }
    }

    /// <summary>Detaches in reverse order of attaching.</summary>
    public void Dispose()
    {
        for (var i = _links.Count - 1; i >= 0; i--)
            _links[i].Dispose();
        _links.Clear();
    }
}
