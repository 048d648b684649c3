using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int EFD_NONBLOCK = 0x800;
        internal const int EFD_CLOEXEC = 0x80000;
        internal const int EPOLL_CLOEXEC = 0x80000;
        internal const int EPOLL_CTL_ADD = 1;
        internal const uint EPOLLIN = 0x1;

        /// <summary>struct epoll_event, which x86-64 packs to 12 bytes.</summary>
        [StructLayout(LayoutKind.Sequential, Pack = 4)]
        internal struct EpollEvent
        {
            public uint Events;
            public ulong Data;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "eventfd", SetLastError = true)]
        internal static partial SafeFileHandle EventFd(uint initialValue, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "epoll_create1", SetLastError = true)]
        internal static partial SafeFileHandle EpollCreate(int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
        internal static partial int EpollCtl(SafeFileHandle epollFd, int operation, SafeFileHandle fd, ref EpollEvent epollEvent);

        [LibraryImport(Libraries.Libc, EntryPoint = "epoll_wait", SetLastError = true)]
        internal static unsafe partial int EpollWait(SafeFileHandle epollFd, EpollEvent* events, int maxEvents, int timeoutMs);

        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        internal static unsafe partial nint Read(SafeFileHandle fd, void* buffer, nuint count);

        [LibraryImport(Libraries.Libc, EntryPoint = "write", SetLastError = true)]
        internal static unsafe partial nint Write(SafeFileHandle fd, void* buffer, nuint count);
    }
}
