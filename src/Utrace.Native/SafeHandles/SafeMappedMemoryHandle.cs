using System.Runtime.InteropServices;

namespace Utrace.Native.SafeHandles;

/// <summary>An mmap'ed region: releasing it unmaps it.</summary>
internal sealed class SafeMappedMemoryHandle : SafeHandle
{
    private readonly nuint _length;

    public SafeMappedMemoryHandle(IntPtr address, nuint length) : base(Interop.Libc.MapFailed, ownsHandle: true)
    {
        SetHandle(address);
        _length = length;
    }

    public override bool IsInvalid => handle == Interop.Libc.MapFailed;

    protected override bool ReleaseHandle() => Interop.Libc.Munmap(handle, _length) == 0;
}
