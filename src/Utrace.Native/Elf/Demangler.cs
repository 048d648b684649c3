using System.Runtime.InteropServices;

namespace Utrace.Native.Elf;

/// <summary>Turns Itanium C++ ABI symbol names into readable ones, using libstdc++'s own demangler.</summary>
internal static class Demangler
{
    /// <summary>Returns the demangled name, or <paramref name="rawName"/> itself when it is not a mangled C++ name.</summary>
    public static unsafe string Demangle(string rawName)
    {
        ArgumentNullException.ThrowIfNull(rawName);
        if (!rawName.StartsWith("_Z", StringComparison.Ordinal))
        {
            return rawName;
        }

        byte* demangled = Interop.StdCxx.CxaDemangle(rawName, null, null, out _);
        if (demangled is null)
        {
            return rawName;
        }

        try
        {
            return Marshal.PtrToStringUTF8((nint)demangled) ?? rawName;
        }
        finally
        {
            Interop.Libc.Free(demangled);
        }
    }
}
