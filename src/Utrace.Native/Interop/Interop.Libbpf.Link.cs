using System.Runtime.InteropServices;
using Utrace.Native.SafeHandles;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>struct bpf_uprobe_multi_opts (libbpf >= 1.3).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct UprobeMultiOptions
        {
            public nuint Size;
            public byte** Symbols;
            public nuint* Offsets;
            public nuint* RefCounterOffsets;
            public ulong* Cookies;
            public nuint Count;
            [MarshalAs(UnmanagedType.U1)] public bool Retprobe;
        }

        /// <summary>struct bpf_uprobe_opts.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct UprobeOptions
        {
            public nuint Size;
            public nuint RefCounterOffset;
            public ulong Cookie;
            [MarshalAs(UnmanagedType.U1)] public bool Retprobe;
            public byte* FunctionName;
            public int AttachMode;
        }

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_program__attach_uprobe_multi", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static unsafe partial SafeBpfLinkHandle AttachUprobeMulti(IntPtr program, int pid, string binaryPath, string? pattern, UprobeMultiOptions* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_program__attach_uprobe_opts", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static unsafe partial SafeBpfLinkHandle AttachUprobe(IntPtr program, int pid, string binaryPath, nuint offset, UprobeOptions* options);

        /// <summary>Attaches a program where its section says (tp_btf/...).</summary>
        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_program__attach", SetLastError = true)]
        internal static partial SafeBpfLinkHandle Attach(IntPtr program);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_link__fd")]
        internal static partial int LinkFd(SafeBpfLinkHandle link);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_link__destroy")]
        internal static partial int LinkDestroy(IntPtr link);
    }
}
