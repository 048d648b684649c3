using System.Runtime.InteropServices;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
        internal static unsafe partial int MapLookupElem(int fd, void* key, void* value);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_update_elem", SetLastError = true)]
        internal static unsafe partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "libbpf_num_possible_cpus")]
        internal static partial int NumPossibleCpus();
    }
}
