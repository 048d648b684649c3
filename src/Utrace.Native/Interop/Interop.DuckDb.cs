using System.Runtime.InteropServices;
using Apache.Arrow.C;
using DuckDB.NET.Native;

namespace Utrace.Native;

internal static partial class Interop
{
    /// <summary>The one DuckDB C function DuckDB.NET does not bind.</summary>
    internal static partial class DuckDb
    {
        /// <summary>
        /// duckdb_arrow_scan: makes <paramref name="viewName"/> a view over an Arrow C stream, read once by the
        /// first query that scans it. DuckDB does not release the stream: its owner does, after that query.
        /// Returns 0 (DuckDBSuccess) or 1 (DuckDBError).
        /// </summary>
        [LibraryImport(Libraries.DuckDb, EntryPoint = "duckdb_arrow_scan", StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int ArrowScan(DuckDBNativeConnection connection, string viewName, CArrowArrayStream* stream);

        /// <summary>
        /// Releases an Arrow C stream DuckDB has read. Apache.Arrow keeps the struct's fields internal; their
        /// layout is the Arrow C stream interface's (struct ArrowArrayStream), the fourth field the release callback.
        /// </summary>
        internal static unsafe void Release(CArrowArrayStream* stream)
        {
            var fields = (ArrowArrayStream*)stream;
            if (fields->Release != null)
                fields->Release(fields);
        }

        [StructLayout(LayoutKind.Sequential)]
        private unsafe struct ArrowArrayStream
        {
            public nint GetSchema;
            public nint GetNext;
            public nint GetLastError;
            public delegate* unmanaged<ArrowArrayStream*, void> Release;
            public nint PrivateData;
        }
    }
}
