using Microsoft.Win32.SafeHandles;

namespace Utrace.Native.SafeHandles;

/// <summary>A libbpf <c>struct bpf_object</c>: its programs and maps close with it.</summary>
internal sealed class SafeBpfObjectHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeBpfObjectHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        Interop.Libbpf.ObjectClose(handle);
        return true;
    }
}
