using Microsoft.Win32.SafeHandles;

namespace Utrace.Native.SafeHandles;

/// <summary>A BPF link made with the bpf(2) syscall itself (libbpf cannot make it): closing its fd detaches its probes.</summary>
internal sealed class SafeBpfLinkFdHandle : SafeHandleMinusOneIsInvalid
{
    public SafeBpfLinkFdHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    protected override bool ReleaseHandle() => Interop.Libc.Close((int)handle) == 0;
}
