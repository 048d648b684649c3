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
/// function the kernel can probe, and, by return mode, a uretprobe, probes on its ret and
/// tail-call jmp instructions, or nothing (the call is then reported at entry).
/// </summary>
internal sealed class ProbePlan
{
    // Enough for any x86 instruction with its prefixes.
    private const int FirstInstructionBytes = 16;

    private ProbePlan(List<ProbeSite> sites, Dictionary<int, string> unprobeable)
    {
        Sites = sites;
        Unprobeable = unprobeable;
    }

    public IReadOnlyList<ProbeSite> Sites { get; }

    /// <summary>Functions left without probes, by id, with the reason.</summary>
    public IReadOnlyDictionary<int, string> Unprobeable { get; }

    /// <summary>The plan for <paramref name="functions"/>, whose ids in the trace's table start at <paramref name="firstId"/>.</summary>
    public static ProbePlan Build(IReadOnlyList<FunctionInfo> functions, ReturnMode mode, int firstId = 0)
    {
        var sites = new List<ProbeSite>(functions.Count * 2);
        var unprobeable = new Dictionary<int, string>();
        var files = new Dictionary<string, FileStream>();
        try
        {
            for (var id = firstId; id < firstId + functions.Count; id++)
            {
                var function = functions[id - firstId];
                var code = ReadCode(files, function, mode == ReturnMode.RetInstruction ? function.Size : FirstInstructionBytes);
                if (InstructionScanner.WhyUnprobeable(code) is { } reason)
                {
                    unprobeable[id] = reason;
                    continue;
                }
                var cookie = (ulong)id;
                switch (mode)
                {
                    case ReturnMode.Uretprobe when ReturnPolicy.MustNotReturnProbe(function.RawName):
                        cookie |= Abi.CookieEntryOnly;
                        break;
                    case ReturnMode.Uretprobe:
                        sites.Add(new ProbeSite(ProbeKind.Return, function.Path, function.Offset, cookie));
                        break;
                    case ReturnMode.EntryOnly:
                        // Also right in a trace whose other programs have return probes (-Follow).
                        cookie |= Abi.CookieEntryOnly;
                        break;
                    case ReturnMode.RetInstruction:
                        // A PLT stub ends in a jmp into the library: its call is reported at entry.
                        var exits = function.Kind == FunctionKind.LibraryCall ? null : InstructionScanner.ExitSites(code, function.Offset);
                        if (exits is null || exits.Count == 0 || exits.Contains(0UL))
                            cookie |= Abi.CookieEntryOnly;
                        else
                            sites.AddRange(exits.Select(exit => new ProbeSite(ProbeKind.Exit, function.Path, function.Offset + exit, cookie)));
                        break;
                }
                sites.Add(new ProbeSite(ProbeKind.Entry, function.Path, function.Offset, cookie));
            }
        }
        finally
        {
            foreach (var file in files.Values)
                file.Dispose();
        }
        return new ProbePlan(sites, unprobeable);
    }

    private static byte[] ReadCode(Dictionary<string, FileStream> files, FunctionInfo function, ulong length)
    {
        if (!files.TryGetValue(function.Path, out var file))
            files[function.Path] = file = new FileStream(function.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.RandomAccess);
        var code = new byte[Math.Min(Math.Max(length, 1UL), 1UL << 20)];
        var read = RandomAccess.Read(file.SafeFileHandle, code, (long)function.Offset);
        return read == code.Length ? code : code[..read];
    }
}
