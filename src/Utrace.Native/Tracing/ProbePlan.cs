using Utrace.Native.Bpf;
using Utrace.Native.Elf;

namespace Utrace.Native.Tracing;

/// <summary>One uprobe to attach: which program, where, and the cookie it reports.</summary>
internal readonly record struct ProbeSite(ProbeKind Kind, string Path, ulong Offset, ulong Cookie)
{
    public int FunctionId => (int)(uint)Cookie;
}

/// <summary>
/// Where the probes of a trace go, decided from each function's code: an entry probe on every
/// function the kernel can probe (moved past a first instruction the kernel would single-step when
/// that is safe, see <see cref="EntryProbePlacement"/>), and, by return mode, a uretprobe, probes on its ret and
/// tail-call jmp instructions, or nothing (the call is then reported at entry). A library call the program makes
/// through its GOT slot is probed at each call site instead (see <see cref="AddCallSites"/>).
/// </summary>
internal sealed class ProbePlan
{
    // Enough for any x86 instruction with its prefixes: what is read of a function of unknown size.
    private const ulong FirstInstructionBytes = 16;

    private ProbePlan(List<ProbeSite> sites, Dictionary<int, string> unprobeable)
    {
        Sites = sites;
        Unprobeable = unprobeable;
    }

    public IReadOnlyList<ProbeSite> Sites { get; }

    /// <summary>Functions left without probes, by id, with the reason.</summary>
    public IReadOnlyDictionary<int, string> Unprobeable { get; }

    /// <summary>
    /// The plan for <paramref name="functions"/>, whose ids in the trace's table start at <paramref name="firstId"/>;
    /// <paramref name="captures"/> (by function id, may be null) adds capture flags to the cookies, and
    /// <paramref name="selection"/> the -Within scope flag.
    /// </summary>
    public static ProbePlan Build(IReadOnlyList<FunctionInfo> functions, ReturnMode mode, IReadOnlyList<CaptureSpec?>? captures = null, int firstId = 0,
        FunctionSelection? selection = null)
    {
        var sites = new List<ProbeSite>(functions.Count * 2);
        var unprobeable = new Dictionary<int, string>();
        using var reader = new FunctionCodeReader();
        for (var id = firstId; id < firstId + functions.Count; id++)
        {
            var function = functions[id - firstId];
            // An indirect call through the GOT is single-stepped: its sites cost that kind of hit.
            AddCallSites(sites, function, mode, (uint)id | CaptureFlags(captures?[id]) | ScopeFlag(selection, function)
                | (ulong)ProbeHitKind.SingleStepped << Abi.CookieHitShift);
            if (function.CalledOnlyThroughGot)
            {
                function.PlaceEntryProbe([]);
                continue;
            }
            var code = reader.Read(function);
            var entry = function.PlaceEntryProbe(code);
            if (entry.Kind == EntryProbeKind.Refused)
            {
                unprobeable[id] = InstructionScanner.WhyUnprobeable(code)!;
                continue;
            }
            // A moved entry probe still sees the return address at [rsp]: the return probe goes with it.
            var entryOffset = function.Offset + entry.Offset;
            var spec = captures?[id];
            var cookie = (uint)id | CaptureFlags(spec) | ScopeFlag(selection, function)
                | (ulong)ProbeCalibration.HitOf(entry.Kind) << Abi.CookieHitShift;
            switch (mode)
            {
                case ReturnMode.Uretprobe when ReturnPolicy.MustNotReturnProbe(function.RawName):
                    cookie |= Abi.CookieEntryOnly;
                    break;
                case ReturnMode.Uretprobe:
                    sites.Add(new ProbeSite(ProbeKind.Uretprobe, function.Path, entryOffset, cookie));
                    break;
                case ReturnMode.EntryOnly:
                    // Also right in a trace whose other programs have return probes (-Follow).
                    cookie |= Abi.CookieEntryOnly;
                    break;
                case ReturnMode.RetInstruction:
                    // A PLT stub ends in a jmp into the library: its call is reported at entry. So is a function whose
                    // entry probe sits on its tail-call jmp.
                    var exits = function.Kind == FunctionKind.LibraryCall ? null : InstructionScanner.ExitSites(code, function.Offset);
                    if (exits is null || exits.Count == 0 || exits.Contains(entry.Offset))
                        cookie |= Abi.CookieEntryOnly;
                    else
                        sites.AddRange(exits.Select(exit => new ProbeSite(ProbeKind.RetInstruction, function.Path, function.Offset + exit,
                            IsReturn(code, exit) ? cookie : cookie & ~Abi.CookieReturnValue)));
                    break;
            }
            // Reading a string may need to fault its page in, which only a sleepable program can.
            sites.Add(new ProbeSite(spec?.ReadsStrings == true ? ProbeKind.EntryFaulting : ProbeKind.Entry, function.Path, entryOffset, cookie));
        }
        return new ProbePlan(sites, unprobeable);
    }

    /// <summary>
    /// Probes where the program calls a library function through its GOT slot (-fno-plt code): on the call, and, but
    /// in EntryOnly mode, on the instruction it returns to, which sees the stack pointer as it was at the call. No
    /// return address is ever replaced, so these calls are timed in Uretprobe and RetInstruction modes alike. A tail-call
    /// jmp, or a call whose return cannot be probed, is reported at entry.
    /// </summary>
    private static void AddCallSites(List<ProbeSite> sites, FunctionInfo function, ReturnMode mode, ulong cookie)
    {
        foreach (var site in function.CallSites)
        {
            if (mode == ReturnMode.EntryOnly || site.ReturnFileOffset is not { } returnOffset)
            {
                sites.Add(new ProbeSite(ProbeKind.CallSite, function.Path, site.FileOffset, (cookie | Abi.CookieEntryOnly) & ~Abi.CookieReturnValue));
                continue;
            }
            sites.Add(new ProbeSite(ProbeKind.CallSite, function.Path, site.FileOffset, cookie));
            sites.Add(new ProbeSite(ProbeKind.CallReturn, function.Path, returnOffset, cookie));
        }
    }

    /// <summary>
    /// Reads each function's code and records on it where its entry probe goes, as a trace would place it; a function
    /// whose file cannot be read is left unplaced.
    /// </summary>
    public static void PlaceEntryProbes(IEnumerable<FunctionInfo> functions)
    {
        using var reader = new FunctionCodeReader();
        foreach (var function in functions)
        {
            if (function.CalledOnlyThroughGot)
            {
                function.PlaceEntryProbe([]);
                continue;
            }
            try
            {
                function.PlaceEntryProbe(reader.Read(function));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Left unplaced: the listing itself does not need the code.
            }
        }
    }

    /// <summary>The cookie flag of a function that opens the -Within scope.</summary>
    private static ulong ScopeFlag(FunctionSelection? selection, FunctionInfo function) => selection?.Scopes(function) == true ? Abi.CookieScope : 0;

    /// <summary>The cookie flags that make the BPF programs send what <paramref name="spec"/> captures.</summary>
    private static ulong CaptureFlags(CaptureSpec? spec)
    {
        if (spec is null)
            return 0;
        var flags = spec.Returns is null ? 0 : Abi.CookieReturnValue;
        if (spec.Arguments.Any(type => type != CaptureType.Skip))
            flags |= Abi.CookieArguments;
        for (var i = 0; i < spec.Arguments.Count; i++)
        {
            if (spec.Arguments[i] == CaptureType.String)
                flags |= 1UL << (Abi.CookieStringsShift + spec.RegisterOf(i));
        }
        return flags;
    }

    /// <summary>True for a ret (rax holds the return value there), false for a tail-call jmp (the callee's rax is yet to come).</summary>
    private static bool IsReturn(byte[] code, ulong site)
    {
        var i = (int)site;
        while (i < code.Length && code[i] is 0xf2 or 0xf3) // bnd, rep
            i++;
        return i < code.Length && code[i] is 0xc3 or 0xc2;
    }

    /// <summary>Reads functions' code, keeping each file open while functions of it are read.</summary>
    private sealed class FunctionCodeReader : IDisposable
    {
        private readonly Dictionary<string, FileStream> _files = new();

        /// <summary>All of the function's code (the placement checks every jump in it), at most 1 MiB.</summary>
        public byte[] Read(FunctionInfo function)
        {
            if (!_files.TryGetValue(function.Path, out var file))
                _files[function.Path] = file = new FileStream(function.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.RandomAccess);
            var length = function.Size == 0 ? FirstInstructionBytes : function.Size;
            var code = new byte[Math.Min(length, 1UL << 20)];
            var read = RandomAccess.Read(file.SafeFileHandle, code, (long)function.Offset);
            return read == code.Length ? code : code[..read];
        }

        public void Dispose()
        {
            foreach (var file in _files.Values)
                file.Dispose();
        }
    }
}
