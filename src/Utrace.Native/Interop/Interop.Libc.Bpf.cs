using System.Runtime.InteropServices;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>The bpf(2) system call's number on x86-64.</summary>
        internal const long SysBpf = 321;

        /// <summary>bpf(2) command BPF_LINK_CREATE.</summary>
        internal const long BpfLinkCreate = 28;

        /// <summary>union bpf_attr as BPF_LINK_CREATE reads it for a uprobe_multi (or uprobe session) link.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct UprobeMultiLinkCreate
        {
            public uint ProgramFd;
            public uint TargetFd;
            public uint AttachType;
            public uint Flags;
            public byte* Path;
            public ulong* Offsets;
            public ulong* RefCounterOffsets;
            public ulong* Cookies;
            public uint Count;
            public uint UprobeFlags;
            public uint Pid;
        }

        /// <summary>bpf(2) through syscall(2): glibc has no wrapper, and libbpf's own refuses attach types it predates.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        internal static unsafe partial long SyscallBpf(long number, long command, void* attributes, uint size);
    }
}
