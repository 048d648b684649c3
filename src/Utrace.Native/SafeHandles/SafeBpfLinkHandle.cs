using Microsoft.Win32.SafeHandles;

namespace Utrace.Native.SafeHandles;

/// <summary>A libbpf <c>struct bpf_link</c>: destroying it detaches the probes it holds.</summary>
internal sealed class SafeBpfLinkHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeBpfLinkHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle() => Interop.Libbpf.LinkDestroy(handle) == 0;
}
