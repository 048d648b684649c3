using System.Runtime.InteropServices;
using Utrace.Native.SafeHandles;
using Utrace.Native.Tracing;

namespace Utrace.Native.Bpf;

/// <summary>Which BPF program a probe runs.</summary>
internal enum ProbeKind
{
    Entry,
    /// <summary>One program for a call's entry and return (a uprobe session; AttachMode.Session).</summary>
    Session,
    /// <summary>A sleepable entry, for functions whose capture spec reads C strings (it can fault pages in).</summary>
    EntryFaulting,
    /// <summary>A uretprobe (ReturnMode.Uretprobe).</summary>
    Uretprobe,
    /// <summary>On a ret or tail-call jmp instruction (ReturnMode.RetInstruction).</summary>
    RetInstruction,
    /// <summary>On the C++ unwinder's entry points (cookie UnwindBegin or UnwindCatch).</summary>
    Unwind,
    /// <summary>On a call of a library function through its GOT slot, in the program's own code (-fno-plt).</summary>
    CallSite,
    /// <summary>On the instruction such a call returns to.</summary>
    CallReturn,
}

/// <summary>
/// The loaded BPF object of bpf/utrace.bpf.c: its entry and return programs, the event ring
/// buffer and the counters. Closing it unloads everything it loaded.
/// </summary>
internal sealed class TraceProgram : IDisposable
{
    private const string ResourceName = "utrace.bpf.o";

    /// <summary>BPF_TRACE_UPROBE_SESSION in the kernel's uapi (6.13), which libbpf 1.4 predates.</summary>
    private const uint UprobeSessionAttachType = 57;

    private readonly SafeBpfObjectHandle _object;
    private readonly IntPtr[] _programs;

    private TraceProgram(SafeBpfObjectHandle obj, AttachMode mode)
    {
        _object = obj;
        Mode = mode;
        _programs = Array.ConvertAll(Enum.GetValues<ProbeKind>(), kind => Interop.Libbpf.FindProgramByName(obj, ProgramName(kind, mode)));
        EventsMapFd = MapFd("events");
        PatchesMapFd = MapFd("patches");
        StacksMapFd = MapFd("stacks");
        StatsMapFd = MapFd("stats");
        SummariesMapFd = MapFd("summaries");
        ThreadFilterMapFd = MapFd("thread_filter");
        FunctionHitsMapFd = MapFd("function_hits");
        DroppedFunctionsMapFd = MapFd("dropped_functions");
        StackSwitchesMapFd = MapFd("stack_switches");
    }

    public AttachMode Mode { get; }
    public int EventsMapFd { get; }

    /// <summary>The ring of stack patches, served by utrace-guard.</summary>
    public int PatchesMapFd { get; }

    /// <summary>The threads' call stacks (task storage), read by utrace-guard when a trace ends.</summary>
    public int StacksMapFd { get; }
    private int StatsMapFd { get; }
    private int SummariesMapFd { get; }
    private int ThreadFilterMapFd { get; }
    private int FunctionHitsMapFd { get; }
    private int DroppedFunctionsMapFd { get; }
    private int StackSwitchesMapFd { get; }

    /// <summary>
    /// Opens, configures and loads the object; <paramref name="mode"/> must not be Auto, and
    /// <paramref name="ringBufferBytes"/> must be a power of two of at least a page.
    /// </summary>
    public static unsafe TraceProgram Load(in TraceConfig config, AttachMode mode, int ringBufferBytes, int functionCount, bool readsStrings)
    {
        var obj = EmbeddedObject.Open(ResourceName);
        try
        {
            EmbeddedObject.WriteReadOnly(obj, config);
            var events = Interop.Libbpf.FindMapByName(obj, "events");
            if (events == IntPtr.Zero || Interop.Libbpf.MapSetMaxEntries(events, (uint)ringBufferBytes) != 0)
                throw new InvalidOperationException("The BPF object has no ring buffer 'events' to size.");
            // A per-function entry only where it is used: the array is per CPU.
            var summaries = Interop.Libbpf.FindMapByName(obj, "summaries");
            var summaryEntries = config.SummaryOnly != 0 ? (uint)Math.Max(1, functionCount) : 1u;
            if (summaries == IntPtr.Zero || Interop.Libbpf.MapSetMaxEntries(summaries, summaryEntries) != 0)
                throw new InvalidOperationException("The BPF object has no map 'summaries' to size.");
            // Every function's probe hits are counted, and any may be dropped under a budget.
            foreach (var perFunction in new[] { "function_hits", "dropped_functions" })
            {
                var map = Interop.Libbpf.FindMapByName(obj, perFunction);
                if (map == IntPtr.Zero || Interop.Libbpf.MapSetMaxEntries(map, (uint)Math.Max(1, functionCount)) != 0)
                    throw new InvalidOperationException($"The BPF object has no map '{perFunction}' to size.");
            }
            // Load one flavour of each program that the configuration uses. Sessions replace the
            // entry and return pairs, but for sleepable entries (they read strings), which keep theirs.
            var sessions = mode == AttachMode.Session;
            foreach (var kind in Enum.GetValues<ProbeKind>())
            {
                var wanted = kind switch
                {
                    ProbeKind.Entry => !sessions,
                    ProbeKind.Session => sessions,
                    ProbeKind.Uretprobe => config.ReturnMode == ReturnMode.Uretprobe && (!sessions || readsStrings),
                    ProbeKind.RetInstruction => config.ReturnMode == ReturnMode.RetInstruction,
                    ProbeKind.Unwind => config.ProtectUnwind != 0,
                    ProbeKind.EntryFaulting => readsStrings,
                    ProbeKind.CallReturn => config.ReturnMode != ReturnMode.EntryOnly,
                    _ => true,
                };
                SetAutoload(obj, ProgramName(kind, AttachMode.MultiLink), wanted && mode != AttachMode.PerFunction);
                if (kind != ProbeKind.Session)
                    SetAutoload(obj, ProgramName(kind, AttachMode.PerFunction), wanted && mode == AttachMode.PerFunction);
            }
            if (sessions && Interop.Libbpf.ProgramSetExpectedAttachType(
                    Interop.Libbpf.FindProgramByName(obj, ProgramName(ProbeKind.Session, mode)), UprobeSessionAttachType) != 0)
                throw new InvalidOperationException("The BPF object has no session program to load.");
            if (Interop.Libbpf.ObjectLoad(obj) != 0)
                throw Interop.BpfError(Interop.LastErrno, readsStrings
                    ? "Loading the BPF programs (capturing a C string needs a sleepable uprobe program and the kfunc bpf_copy_from_user_str: Linux 6.12 or later)"
                    : "Loading the BPF programs");
            return new TraceProgram(obj, mode);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Probes of one kind on many functions of one binary, as one link (kernel >= 6.6).</summary>
    public unsafe SafeBpfLinkHandle AttachMulti(ProbeKind kind, int pid, string binaryPath, ReadOnlySpan<nuint> offsets, ReadOnlySpan<ulong> cookies)
    {
        var retprobe = kind == ProbeKind.Uretprobe;
        fixed (nuint* offsetsPtr = offsets)
        fixed (ulong* cookiesPtr = cookies)
        {
            var options = new Interop.Libbpf.UprobeMultiOptions
            {
                Size = (nuint)sizeof(Interop.Libbpf.UprobeMultiOptions),
                Offsets = offsetsPtr,
                Cookies = cookiesPtr,
                Count = (nuint)offsets.Length,
                Retprobe = retprobe,
            };
            var link = Interop.Libbpf.AttachUprobeMulti(_programs[(int)kind], pid, binaryPath, null, &options);
            if (link.IsInvalid)
                throw Interop.BpfError(Interop.LastErrno, $"Attaching {Words(kind, ' ')} probes to {offsets.Length} functions of {binaryPath}", binaryPath);
            return link;
        }
    }

    /// <summary>
    /// Session probes on many functions of one binary, as one link (kernel >= 6.13). libbpf 1.4 cannot
    /// make this link (its bpf_link_create refuses the attach type), so it is made with bpf(2) itself.
    /// </summary>
    public unsafe SafeBpfLinkFdHandle AttachSessions(int pid, string binaryPath, ReadOnlySpan<nuint> offsets, ReadOnlySpan<ulong> cookies)
    {
        var path = System.Text.Encoding.UTF8.GetBytes(binaryPath + "\0");
        fixed (byte* pathPtr = path)
        fixed (nuint* offsetsPtr = offsets)
        fixed (ulong* cookiesPtr = cookies)
        {
            var attributes = new Interop.Libc.UprobeMultiLinkCreate
            {
                ProgramFd = (uint)Interop.Libbpf.ProgramFd(_programs[(int)ProbeKind.Session]),
                AttachType = UprobeSessionAttachType,
                Path = pathPtr,
                Offsets = (ulong*)offsetsPtr,
                Cookies = cookiesPtr,
                Count = (uint)offsets.Length,
                Pid = (uint)Math.Max(0, pid),
            };
            var fd = Interop.Libc.SyscallBpf(Interop.Libc.SysBpf, Interop.Libc.BpfLinkCreate, &attributes, (uint)sizeof(Interop.Libc.UprobeMultiLinkCreate));
            if (fd < 0)
                throw Interop.BpfError(Interop.LastErrno, $"Attaching session probes to {offsets.Length} functions of {binaryPath}", binaryPath);
            return new SafeBpfLinkFdHandle((int)fd);
        }
    }

    /// <summary>One probe on one function (the fallback for older kernels).</summary>
    public unsafe SafeBpfLinkHandle AttachSingle(ProbeKind kind, int pid, string binaryPath, nuint offset, ulong cookie)
    {
        var options = new Interop.Libbpf.UprobeOptions
        {
            Size = (nuint)sizeof(Interop.Libbpf.UprobeOptions),
            Cookie = cookie,
            Retprobe = kind == ProbeKind.Uretprobe,
        };
        var link = Interop.Libbpf.AttachUprobe(_programs[(int)kind], pid, binaryPath, offset, &options);
        if (link.IsInvalid)
            throw Interop.BpfError(Interop.LastErrno, $"Attaching a {Words(kind, ' ')} probe at offset 0x{offset:x} of {binaryPath}", binaryPath);
        return link;
    }

    /// <summary>Restricts tracing to these threads (used with TraceConfig.FilterThreads).</summary>
    public unsafe void AddThreads(IEnumerable<int> threadIds)
    {
        byte one = 1;
        foreach (var tid in threadIds)
        {
            var key = (uint)tid;
            if (Interop.Libbpf.MapUpdateElem(ThreadFilterMapFd, &key, &one, 0) != 0)
                throw Interop.BpfError(Interop.LastErrno, $"Adding thread {tid} to the thread filter", tid);
        }
    }

    /// <summary>No call completing from now on is reported (recording_ended, bpf/utrace-common.bpf.h): call before detaching.</summary>
    public unsafe void EndRecording()
    {
        uint zero = 0, ended = 1;
        if (Interop.Libbpf.MapUpdateElem(MapFd(".data.control"), &zero, &ended, 0) != 0)
            throw Interop.BpfError(Interop.LastErrno, "Ending the recording");
    }

    /// <summary>Summary mode: each function's calls, summed over all CPUs, indexed by function id.</summary>
    public unsafe FunctionSummaryRecord[] ReadSummaries(int functionCount)
    {
        var cpus = Interop.Libbpf.NumPossibleCpus();
        var totals = new FunctionSummaryRecord[functionCount];
        if (cpus <= 0)
            return totals;
        var perCpu = new FunctionSummaryRecord[cpus];
        fixed (FunctionSummaryRecord* values = perCpu)
        {
            for (uint id = 0; id < (uint)functionCount; id++)
            {
                if (Interop.Libbpf.MapLookupElem(SummariesMapFd, &id, values) != 0)
                    throw Interop.BpfError(Interop.LastErrno, "Reading the function summaries");
                ref var total = ref totals[id];
                foreach (ref readonly var cpu in perCpu.AsSpan())
                {
                    if (cpu.Calls == 0)
                        continue;
                    total.MinNs = total.Calls == 0 ? cpu.MinNs : Math.Min(total.MinNs, cpu.MinNs);
                    total.MaxNs = Math.Max(total.MaxNs, cpu.MaxNs);
                    total.Calls += cpu.Calls;
                    total.TotalNs += cpu.TotalNs;
                    total.SumNs += cpu.SumNs;
                    total.RawSumNs += cpu.RawSumNs;
                    total.SelfNs += cpu.SelfNs;
                    total.OnCpuNs += cpu.OnCpuNs;
                    for (var b = 0; b < Abi.HistogramBuckets; b++)
                        total.Histogram[b] += cpu.Histogram[b];
                }
            }
        }
        return totals;
    }

    /// <summary>
    /// The hits of each function's entry probe so far, summed over all CPUs, into <paramref name="hits"/> (by function
    /// id, as many as it holds, at most the map's size); <paramref name="perCpu"/> is scratch room the caller keeps
    /// (<see cref="HitsScratchLength"/> long), so the periodic read allocates nothing.
    /// </summary>
    public unsafe void ReadFunctionHits(ulong[] hits, ulong[] perCpu)
    {
        var cpus = Interop.Libbpf.NumPossibleCpus();
        Array.Clear(hits);
        uint next = 0;
        var first = true;
        var done = 0;
        fixed (ulong* values = perCpu)
        fixed (ulong* totals = hits)
        {
            var keyRoom = stackalloc uint[HitsBatch];
            while (done < hits.Length)
            {
                var count = (uint)Math.Min(HitsBatch, hits.Length - done);
                var start = next;
                var failed = Interop.Libbpf.MapLookupBatch(FunctionHitsMapFd, first ? null : &start, &next, keyRoom, values, &count, null) != 0;
                for (var i = 0; i < count; i++)
                {
                    var id = keyRoom[i];
                    if (id >= hits.Length)
                        continue;
                    for (var cpu = 0; cpu < cpus; cpu++)
                        totals[id] += values[i * cpus + cpu];
                }
                done += (int)count;
                first = false;
                if (failed)
                {
                    if (Interop.LastErrno == Interop.ENOENT)
                        return;
                    throw Interop.BpfError(Interop.LastErrno, "Reading the functions' probe hits");
                }
            }
        }
    }

    /// <summary>Functions read per batch by <see cref="ReadFunctionHits"/>.</summary>
    private const int HitsBatch = 256;

    /// <summary>The length of the scratch array <see cref="ReadFunctionHits"/> needs.</summary>
    public static int HitsScratchLength => HitsBatch * Math.Max(1, Interop.Libbpf.NumPossibleCpus());

    /// <summary>From now on, the function's new calls are ignored (its probes are about to go).</summary>
    public unsafe void MarkDropped(int functionId)
    {
        uint key = (uint)functionId, one = 1;
        if (Interop.Libbpf.MapUpdateElem(DroppedFunctionsMapFd, &key, &one, 0) != 0)
            throw Interop.BpfError(Interop.LastErrno, $"Dropping function {functionId}");
    }

    /// <summary>The first stack switch of each process that switched, by process id.</summary>
    public unsafe IReadOnlyDictionary<int, StackSwitchRecord> ReadStackSwitches()
    {
        var switches = new Dictionary<int, StackSwitchRecord>();
        uint key = 0;
        var first = true;
        while (Interop.Libbpf.MapGetNextKey(StackSwitchesMapFd, first ? null : &key, &key) == 0)
        {
            first = false;
            StackSwitchRecord value;
            if (Interop.Libbpf.MapLookupElem(StackSwitchesMapFd, &key, &value) == 0)
                switches[(int)key] = value;
        }
        return switches;
    }

    /// <summary>
    /// The counters of struct utrace_stats, each summed over all CPUs, by slot (byte offset / 8): the
    /// map's value size says how many there are, so a counter added to the header needs nothing here.
    /// </summary>
    public unsafe ulong[] ReadCounters()
    {
        var slots = (int)(Interop.Libbpf.MapValueSize(Interop.Libbpf.FindMapByName(_object, "stats")) / sizeof(ulong));
        var totals = new ulong[slots];
        var cpus = Interop.Libbpf.NumPossibleCpus();
        if (cpus <= 0)
            return totals;
        var perCpu = new ulong[cpus * slots];
        uint key = 0;
        fixed (ulong* values = perCpu)
        {
            if (Interop.Libbpf.MapLookupElem(StatsMapFd, &key, values) != 0)
                throw Interop.BpfError(Interop.LastErrno, "Reading the BPF counters");
        }
        for (var i = 0; i < perCpu.Length; i++)
            totals[i % slots] += perCpu[i];
        return totals;
    }

    public void Dispose() => _object.Dispose();

    private int MapFd(string name)
    {
        var map = Interop.Libbpf.FindMapByName(_object, name);
        var fd = map == IntPtr.Zero ? -1 : Interop.Libbpf.MapFd(map);
        return fd >= 0 ? fd : throw new InvalidOperationException($"The BPF object has no map '{name}'.");
    }

    /// <summary>The program's name in bpf/utrace.bpf.c: utrace_ret_instruction_multi for RetInstruction's multi-uprobe flavour.</summary>
    private static string ProgramName(ProbeKind kind, AttachMode mode) =>
        $"utrace_{Words(kind, '_')}{(mode == AttachMode.PerFunction ? "" : "_multi")}";

    /// <summary>The kind's name in lowercase words: RetInstruction is "ret instruction" or "ret_instruction".</summary>
    private static string Words(ProbeKind kind, char separator) =>
        string.Concat(kind.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? $"{separator}{char.ToLowerInvariant(c)}" : char.ToLowerInvariant(c).ToString()));

    private static void SetAutoload(SafeBpfObjectHandle obj, string program, bool load)
    {
        var handle = Interop.Libbpf.FindProgramByName(obj, program);
        if (handle == IntPtr.Zero || Interop.Libbpf.ProgramSetAutoload(handle, load) != 0)
            throw new InvalidOperationException($"The BPF object has no program '{program}'.");
    }
}
