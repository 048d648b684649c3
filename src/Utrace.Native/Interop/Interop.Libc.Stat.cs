using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const uint S_IFMT = 0xF000;
        internal const uint S_IFREG = 0x8000;

        // struct stat of x86-64: 144 bytes, st_mode at offset 24 (after st_dev, st_ino, st_nlink).
        private const int StatBytes = 144;
        private const int StatModeOffset = 24;

        [LibraryImport(Libraries.Libc, EntryPoint = "fstat", SetLastError = true)]
        private static unsafe partial int FStat(SafeFileHandle fd, byte* stat);

        /// <summary>The type and permission bits (st_mode) of an open file, or null if fstat fails.</summary>
        internal static unsafe uint? FileMode(SafeFileHandle fd)
        {
            var stat = stackalloc byte[StatBytes];
            return FStat(fd, stat) == 0 ? *(uint*)(stat + StatModeOffset) : null;
        }
    }
}
