using System.Runtime.InteropServices;
using Utrace.Native.SafeHandles;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>pidfd_open(2)'s number on x86-64 (Linux 5.3); glibc has a wrapper only since 2.36.</summary>
        internal const long SysPidfdOpen = 434;

        internal const short POLLIN = 0x1;

        /// <summary>struct pollfd.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct PollFd
        {
            public int Fd;
            public short Events;
            public short ReturnedEvents;
        }

        /// <summary>A pidfd of process <paramref name="pid"/>: it polls readable once the process has exited.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        internal static partial SafePidfdHandle PidfdOpen(long number, int pid, uint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "poll", SetLastError = true)]
        internal static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);
    }
}
