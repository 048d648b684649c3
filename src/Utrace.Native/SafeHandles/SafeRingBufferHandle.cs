using Microsoft.Win32.SafeHandles;

namespace Utrace.Native.SafeHandles;

/// <summary>A libbpf <c>struct ring_buffer</c> consumer.</summary>
internal sealed class SafeRingBufferHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeRingBufferHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle()
    {
        Interop.Libbpf.RingBufferFree(handle);
        return true;
    }
}
