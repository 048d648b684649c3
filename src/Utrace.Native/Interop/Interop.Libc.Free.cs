using System.Runtime.InteropServices;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>Releases memory that a native library allocated with malloc for the caller.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "free")]
        internal static unsafe partial void Free(void* ptr);
    }
}
