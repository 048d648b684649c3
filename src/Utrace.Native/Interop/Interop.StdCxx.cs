using System.Runtime.InteropServices;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class StdCxx
    {
        /// <summary>
        /// Demangles an Itanium C++ ABI name. Returns a malloc'd string that the caller frees with
        /// <see cref="Libc.Free"/>, or null with <paramref name="status"/> -1 (no memory),
        /// -2 (not a valid mangled name) or -3 (bad argument).
        /// </summary>
        [LibraryImport(Libraries.StdCxx, EntryPoint = "__cxa_demangle", StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial byte* CxaDemangle(string mangledName, byte* outputBuffer, nuint* length, out int status);
    }
}
