using System.Runtime.InteropServices;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        internal const int PrintWarning = 0;
        internal const int PrintInfo = 1;

        [LibraryImport(Libraries.Libbpf, EntryPoint = "libbpf_set_print")]
        internal static unsafe partial IntPtr SetPrint(delegate* unmanaged[Cdecl]<int, IntPtr, IntPtr, int> print);
    }

    internal static partial class Libc
    {
        /// <summary>Formats libbpf's printf-style messages; on x86-64 a va_list is passed as a pointer.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "vsnprintf")]
        internal static unsafe partial int VsnPrintf(byte* buffer, nuint size, IntPtr format, IntPtr args);
    }
}
