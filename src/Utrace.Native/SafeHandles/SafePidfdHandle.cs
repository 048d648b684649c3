using Microsoft.Win32.SafeHandles;

namespace Utrace.Native.SafeHandles;

/// <summary>A process's pidfd (pidfd_open): readable once the process has exited.</summary>
internal sealed class SafePidfdHandle : SafeHandleMinusOneIsInvalid
{
    public SafePidfdHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => Interop.Libc.Close((int)handle) == 0;
}
