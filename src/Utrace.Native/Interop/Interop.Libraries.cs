namespace Utrace.Native;

internal static partial class Interop
{
    /// <summary>The native libraries the engine calls, one name each.</summary>
    internal static class Libraries
    {
        // Shipped in the module folder by the DuckDB.NET.Bindings.Full package.
        internal const string DuckDb = "duckdb";
        internal const string Libbpf = "libbpf.so.1";
        internal const string Libc = "libc";
        internal const string StdCxx = "libstdc++.so.6";
    }
}
