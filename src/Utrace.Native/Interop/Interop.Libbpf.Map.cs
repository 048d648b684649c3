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

        /// <summary>The key after <paramref name="key"/> (the first with null); non-zero at the end.</summary>
        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_get_next_key", SetLastError = true)]
        internal static unsafe partial int MapGetNextKey(int fd, void* key, void* nextKey);

        /// <summary>
        /// Up to <paramref name="count"/> entries from <paramref name="inBatch"/> (null: the first) on; sets count to
        /// those read and outBatch to where the next batch starts. Fails with ENOENT after the last entry.
        /// </summary>
        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_lookup_batch", SetLastError = true)]
        internal static unsafe partial int MapLookupBatch(int fd, void* inBatch, void* outBatch, void* keys, void* values, uint* count, void* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "libbpf_num_possible_cpus")]
        internal static partial int NumPossibleCpus();
    }
}
