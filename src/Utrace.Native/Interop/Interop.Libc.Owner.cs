using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>Gives an open file to another user and group (root only).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "fchown", SetLastError = true)]
        internal static partial int FChown(SafeFileHandle fd, uint owner, uint group);
    }
}
