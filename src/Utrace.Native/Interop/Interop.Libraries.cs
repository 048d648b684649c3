namespace Utrace.Native;

internal static partial class Interop
{
    /// <summary>The native libraries the engine calls, one name each.</summary>
    internal static class Libraries
    {
        internal const string Libbpf = "libbpf.so.1";
        internal const string Libc = "libc";
        internal const string StdCxx = "libstdc++.so.6";
    }
}
