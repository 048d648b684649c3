using Utrace.Native.SafeHandles;

namespace Utrace.Native.Tracing;

// What ProcessFollower keeps of the programs and processes it follows.

/// <summary>Probes for some functions of a program, attached per process.</summary>
internal sealed record ModuleProbes(ProbePlan Plan, IReadOnlyList<UnwindHook> Hooks);

/// <summary>One program (executable) as traced: what its processes start with, and the libraries they map later.</summary>
internal sealed class ProgramProbes(FunctionCatalog catalog, ModuleProbes start, bool watchLinker)
{
    public string Path { get; } = catalog.ModulePaths.First();
    public string Name { get; } = catalog.ExecutableName;
    public ModuleProbes Start { get; } = start;
    public IReadOnlyList<string> StartPaths { get; } = catalog.ModulePaths.ToArray();
    public (string Path, ulong Offset)? Linker { get; } = watchLinker ? catalog.LinkerRendezvous() : null;
    public Dictionary<string, ModuleProbes?> Libraries { get; } = new(StringComparer.Ordinal);
    public HashSet<ModuleProbes> Refusals { get; } = [];
}

/// <summary>One followed process: its program, the modules probed in it, and the links that do it.</summary>
internal sealed class TracedProcess(int pid, ProgramProbes program)
{
    public int Pid { get; } = pid;
    public ProgramProbes Program { get; } = program;
    public List<ModuleProbes> Modules { get; } = [];
    public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);

    /// <summary>The probe sets attached for this process (the first process's first set is the session's own).</summary>
    public List<ProbeSet> Probes { get; } = [];
    public SafeBpfLinkHandle? Linker { get; set; }

    /// <summary>Closes every link; after an exec, without <paramref name="returnsFirst"/> (see ProbeSet.DetachTogether).</summary>
    public void Detach(bool returnsFirst)
    {
        ProbeSet.DetachTogether(Probes, Linker is null ? [] : [Linker], progress: null, returnsFirst);
        Probes.Clear();
    }
}
