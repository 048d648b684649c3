namespace Utrace.Native.Bpf;

/// <summary>
/// What this kernel can do for Utrace, probed once per PowerShell process (<see cref="Current"/>); the set-up
/// step takes it as a value, so tests can ask about any kernel.
/// </summary>
/// <param name="MultiLinks">Multi-uprobe links (Linux 6.6).</param>
/// <param name="Sessions">Uprobe session programs, BPF_TRACE_UPROBE_SESSION (Linux 6.13).</param>
/// <param name="StopsChildren">The kfunc bpf_send_signal_task, which stops a forked child before it runs (Linux 6.13).</param>
internal sealed record KernelFeatures(bool MultiLinks, bool Sessions, bool StopsChildren)
{
    private const string VmlinuxBtf = "/sys/kernel/btf/vmlinux";

    private static readonly Lazy<KernelFeatures> s_current = new(Probe);

    public static KernelFeatures Current => s_current.Value;

    // The kernel's BTF names its attach types and kfuncs; the multi links predate what it can tell, so the version does.
    private static KernelFeatures Probe()
    {
        var btf = File.Exists(VmlinuxBtf) ? File.ReadAllBytes(VmlinuxBtf) : [];
        return new KernelFeatures(
            MultiLinks: Environment.OSVersion.Version >= new Version(6, 6),
            Sessions: btf.AsSpan().IndexOf("\0BPF_TRACE_UPROBE_SESSION\0"u8) >= 0,
            StopsChildren: btf.AsSpan().IndexOf("\0bpf_send_signal_task\0"u8) >= 0);
    }
}
