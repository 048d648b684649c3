using System.Runtime.InteropServices;
using Utrace.Native.SafeHandles;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
        internal static unsafe partial SafeBpfObjectHandle ObjectOpenMem(byte* buffer, nuint size, IntPtr options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__load", SetLastError = true)]
        internal static partial int ObjectLoad(SafeBpfObjectHandle obj);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__close")]
        internal static partial void ObjectClose(IntPtr obj);

        /// <summary>Returns a pointer owned by the object: valid while the object is open.</summary>
        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial IntPtr FindProgramByName(SafeBpfObjectHandle obj, string name);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial IntPtr FindMapByName(SafeBpfObjectHandle obj, string name);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_program__set_autoload")]
        internal static partial int ProgramSetAutoload(IntPtr program, [MarshalAs(UnmanagedType.U1)] bool autoload);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_program__set_expected_attach_type")]
        internal static partial int ProgramSetExpectedAttachType(IntPtr program, uint attachType);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_program__fd")]
        internal static partial int ProgramFd(IntPtr program);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map__initial_value")]
        internal static partial IntPtr MapInitialValue(IntPtr map, out nuint size);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map__set_max_entries")]
        internal static partial int MapSetMaxEntries(IntPtr map, uint maxEntries);

        /// <summary>Makes a map of an object not yet loaded use an existing map (another object's).</summary>
        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map__reuse_fd", SetLastError = true)]
        internal static partial int MapReuseFd(IntPtr map, int fd);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map__fd")]
        internal static partial int MapFd(IntPtr map);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map__value_size")]
        internal static partial uint MapValueSize(IntPtr map);
    }
}
