using Utrace.Native.SafeHandles;

namespace Utrace.Native.Bpf;

/// <summary>
/// The loaded object of bpf/utrace-follow.bpf.c: it reports forks, execs and exits of the
/// followed processes, and their dynamic linker's library changes, on the trace's events ring,
/// each but an exit with the process stopped until the engine continues it; and a launched
/// program's first stop, once its dynamic linker has mapped its libraries.
/// </summary>
internal sealed class FollowProgram : IDisposable
{
    private const string ResourceName = "utrace-follow.bpf.o";
    private static readonly string[] TracepointPrograms = ["utrace_fork", "utrace_exec", "utrace_exit"];

    private readonly SafeBpfObjectHandle _object;
    private readonly List<SafeBpfLinkHandle> _tracepoints = [];
    private readonly IntPtr _linkerProgram;
    private readonly IntPtr _librariesMappedProgram;
    private readonly int _followedFd;

    private FollowProgram(SafeBpfObjectHandle obj)
    {
        _object = obj;
        _linkerProgram = Interop.Libbpf.FindProgramByName(obj, "utrace_linker");
        _librariesMappedProgram = Interop.Libbpf.FindProgramByName(obj, "utrace_libraries_mapped");
        var followed = Interop.Libbpf.FindMapByName(obj, "followed");
        _followedFd = followed == IntPtr.Zero ? -1 : Interop.Libbpf.MapFd(followed);
        if (_linkerProgram == IntPtr.Zero || _librariesMappedProgram == IntPtr.Zero || _followedFd < 0)
            throw new InvalidOperationException("The follow BPF object lacks its linker programs or its 'followed' map.");
    }

    /// <summary>
    /// Loads the programs, reporting on the ring <paramref name="eventsMapFd"/> (null: a ring of
    /// their own that nobody reads, for <see cref="AttachLibrariesMapped"/> alone); with
    /// <paramref name="children"/>, attaches the fork, exec and exit tracepoints as well
    /// (the kernel must stop children: KernelFeatures.StopsChildren).
    /// </summary>
    public static FollowProgram Load(int? eventsMapFd, bool children)
    {
        var obj = EmbeddedObject.Open(ResourceName);
        try
        {
            EmbeddedObject.WriteReadOnly(obj, children ? 1u : 0u);
            var events = Interop.Libbpf.FindMapByName(obj, "events");
            if (events == IntPtr.Zero || eventsMapFd is { } shared && Interop.Libbpf.MapReuseFd(events, shared) != 0)
                throw Interop.BpfError(Interop.LastErrno, "Sharing the events ring with the follow programs");
            foreach (var name in TracepointPrograms)
                Interop.Libbpf.ProgramSetAutoload(Interop.Libbpf.FindProgramByName(obj, name), children);
            if (Interop.Libbpf.ObjectLoad(obj) != 0)
                // Without a ring to share, this is a launch's first BPF load, where missing capabilities show.
                throw Interop.BpfError(Interop.LastErrno, eventsMapFd is null ? "Loading the BPF programs" : "Loading the BPF programs that follow processes");
            var program = new FollowProgram(obj);
            try
            {
                if (children)
                    foreach (var name in TracepointPrograms)
                        program.AttachTracepoint(name);
                return program;
            }
            catch
            {
                program.Dispose();
                throw;
            }
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Follows process <paramref name="pid"/> (its forks and execs); its next <paramref name="execsToPass"/> execs go unreported.</summary>
    public unsafe void Follow(int pid, uint execsToPass)
    {
        var key = (uint)pid;
        if (Interop.Libbpf.MapUpdateElem(_followedFd, &key, &execsToPass, 0) != 0)
            throw Interop.BpfError(Interop.LastErrno, $"Following process {pid}", pid);
    }

    /// <summary>The processes followed now: the first, and every child not yet exited.</summary>
    public unsafe IReadOnlyList<int> FollowedProcesses()
    {
        var pids = new List<int>();
        uint key = 0, next;
        for (var previous = (uint*)null; Interop.Libbpf.MapGetNextKey(_followedFd, previous, &next) == 0; previous = &key)
        {
            pids.Add((int)next);
            key = next;
        }
        return pids;
    }

    /// <summary>A probe on the dynamic linker's rendezvous function, for process <paramref name="pid"/> only.</summary>
    public SafeBpfLinkHandle AttachLinker(int pid, string linkerPath, ulong offset) => AttachToLinker(_linkerProgram, pid, linkerPath, offset, 0);

    /// <summary>
    /// Stops process <paramref name="pid"/> once its dynamic linker reports its libraries complete
    /// (at <paramref name="offset"/>, _dl_debug_state, with _r_debug <paramref name="stateDistance"/> bytes away).
    /// </summary>
    public SafeBpfLinkHandle AttachLibrariesMapped(int pid, string linkerPath, ulong offset, ulong stateDistance) =>
        AttachToLinker(_librariesMappedProgram, pid, linkerPath, offset, stateDistance);

    private static unsafe SafeBpfLinkHandle AttachToLinker(IntPtr program, int pid, string linkerPath, ulong offset, ulong cookie)
    {
        var place = (nuint)offset;
        var options = new Interop.Libbpf.UprobeMultiOptions { Size = (nuint)sizeof(Interop.Libbpf.UprobeMultiOptions), Offsets = &place, Cookies = &cookie, Count = 1 };
        var link = Interop.Libbpf.AttachUprobeMulti(program, pid, linkerPath, null, &options);
        return link.IsInvalid
            ? throw Interop.BpfError(Interop.LastErrno, $"Attaching a probe to the dynamic linker {linkerPath} of process {pid}", pid)
            : link;
    }

    public void Dispose()
    {
        foreach (var link in _tracepoints)
            link.Dispose();
        _tracepoints.Clear();
        _object.Dispose();
    }

    private void AttachTracepoint(string name)
    {
        var link = Interop.Libbpf.Attach(Interop.Libbpf.FindProgramByName(_object, name));
        if (link.IsInvalid)
            throw Interop.BpfError(Interop.LastErrno, $"Attaching {name} to its scheduler tracepoint");
        _tracepoints.Add(link);
    }
}
