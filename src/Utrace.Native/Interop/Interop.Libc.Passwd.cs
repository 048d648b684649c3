using System.Runtime.InteropServices;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int ERANGE = 34;

        /// <summary>struct passwd of glibc on x86-64.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Passwd
        {
            public IntPtr Name;
            public IntPtr Password;
            public uint Uid;
            public uint Gid;
            public IntPtr Gecos;
            public IntPtr Home;
            public IntPtr Shell;
        }

        /// <summary>Returns 0 or an errno; *result is null when no user has the name.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int GetPwNam(string name, Passwd* entry, byte* buffer, nuint size, Passwd** result);

        /// <summary>Returns 0 or an errno; *result is null when no user has the uid.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "getpwuid_r")]
        internal static unsafe partial int GetPwUid(uint uid, Passwd* entry, byte* buffer, nuint size, Passwd** result);
    }
}
