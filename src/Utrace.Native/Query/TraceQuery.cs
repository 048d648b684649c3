using Apache.Arrow.C;
using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Utrace.Native.Tracing;

namespace Utrace.Native.Query;

/// <summary>
/// SQL over trace files, with DuckDB embedded in this process and an in-memory database of its own.
/// Each file added joins the view <c>calls</c> (one row per call, format 2's column names, files
/// unioned by column name): an Arrow trace is handed to DuckDB batch by batch through the Arrow C
/// stream interface, and the columns the query names are kept in a table; a Parquet export is read
/// by DuckDB itself at each query.
/// </summary>
internal sealed class TraceQuery : IDisposable
{
    /// <summary>The view every query sees.</summary>
    public const string CallsView = "calls";

    private static ReadOnlySpan<byte> ParquetMagic => "PAR1"u8;

    private readonly DuckDBConnection _connection;
    private readonly List<string> _files = [];
    private readonly string _sql;
    private readonly IReadOnlySet<string>? _wanted;

    /// <summary>Prepares to run <paramref name="sql"/>; the files it reads are then given to <see cref="Add"/>.</summary>
    /// <exception cref="UtraceException">The query does not parse (ErrorId QuerySyntaxError): no file is loaded for it.</exception>
    public TraceQuery(string sql)
    {
        _sql = sql;
        _connection = new DuckDBConnection("DataSource=:memory:");
        try
        {
            _connection.Open();
            // Times come out as UTC whatever the machine's zone.
            Execute("SET TimeZone = 'UTC'");
            using var parse = _connection.CreateCommand();
            parse.CommandText = $"SELECT json_serialize_sql({CallsSql.Literal(sql)})";
            _wanted = QueryColumns.Named((string)parse.ExecuteScalar()!, out var syntaxError);
            if (syntaxError is not null)
                throw SyntaxError(syntaxError, sql, inner: null);
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Adds a trace file (Arrow IPC stream, format 1 or 2) or a Parquet export to <c>calls</c>. Returns
    /// the rows loaded (null for Parquet, which is read at each query) and whether the file was cut short.
    /// </summary>
    /// <exception cref="UtraceException">The file is missing, unreadable, or neither a Utrace trace nor Parquet.</exception>
    public (long? Rows, bool WasCut) Add(string path)
    {
        var table = $"utrace_file_{_files.Count}";
        if (IsParquet(path))
        {
            ReadFile(() => Execute($"CREATE VIEW {table} AS SELECT * FROM read_parquet({CallsSql.Literal(path)})"), path,
                "Invoke-UTraceQuery reads trace files and Parquet files written by Export-UTrace.");
            // DuckDB reads only the columns a query needs from Parquet itself.
            _files.Add($"SELECT * FROM {table}");
            return (null, false);
        }
        using var trace = TraceFile.Open(path);
        using var batches = new TraceBatchStream(path);
        var fileColumns = batches.FileColumns;
        string sql;
        IReadOnlySet<string> load;
        if (fileColumns.Contains("function"))
        {
            (sql, load) = CallsSql.AsIs(table, fileColumns, _wanted);
        }
        else
        {
            var functions = table + "_functions";
            AddFunctions(functions, trace.Context);
            var unixNsAtMonotonicZero = Timestamp.FromDateTime(trace.Context.StartTime).UnixNanoseconds - (long)trace.Context.StartMonotonicNs;
            (sql, load) = CallsSql.FromFormat1(table, functions, fileColumns, _wanted, unixNsAtMonotonicZero, trace.Origin.HostName);
        }
        batches.Keep(load);
        Load(table, batches, path);
        _files.Add(sql);
        return (batches.Rows, batches.WasCut);
    }

    /// <summary>
    /// Runs the query and streams its rows, each value mapped by <see cref="QueryValues"/>;
    /// <paramref name="columns"/> gets the result's column names before the first row.
    /// </summary>
    /// <exception cref="UtraceException">DuckDB refused or failed the query (ErrorId QuerySyntaxError or InvalidQuery).</exception>
    /// <exception cref="OperationCanceledException"><see cref="Interrupt"/> stopped it.</exception>
    public IEnumerable<object?[]> Run(Action<IReadOnlyList<string>> columns)
    {
        if (_files.Count > 0)
            Execute($"CREATE OR REPLACE VIEW {CallsView} AS {string.Join(" UNION ALL BY NAME ", _files)}");
        var command = _connection.CreateCommand();
        command.CommandText = _sql;
        command.UseStreamingMode = true;
        DuckDBDataReader reader;
        try
        {
            reader = (DuckDBDataReader)command.ExecuteReader();
        }
        catch (DuckDBException ex)
        {
            command.Dispose();
            throw QueryFailed(ex, _sql);
        }
        return Rows();

        IEnumerable<object?[]> Rows()
        {
            using (command)
            using (reader)
            {
                var types = Enumerable.Range(0, reader.FieldCount).Select(reader.GetDataTypeName).ToArray();
                columns(UniqueNames(Enumerable.Range(0, reader.FieldCount).Select(reader.GetName)));
                while (true)
                {
                    try
                    {
                        if (!reader.Read())
                            yield break;
                    }
                    catch (DuckDBException ex)
                    {
                        throw QueryFailed(ex, _sql);
                    }
                    var row = new object?[types.Length];
                    for (var i = 0; i < row.Length; i++)
                        row[i] = QueryValues.Read(reader, i, types[i]);
                    yield return row;
                }
            }
        }
    }

    /// <summary>
    /// The result's column names, each one distinct ignoring case, as properties of an object must be:
    /// a repeated name gets _1, _2... (SELECT a, a).
    /// </summary>
    internal static string[] UniqueNames(IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        return names.Select(name =>
        {
            var unique = name;
            for (var n = 1; !seen.Add(unique); n++)
                unique = $"{name}_{n}";
            return unique;
        }).ToArray();
    }

    /// <summary>Stops the statement running on another thread (loading a file or a query): it fails with an interrupt.</summary>
    public void Interrupt() => NativeMethods.Startup.DuckDBInterrupt(_connection.NativeConnection);

    public void Dispose() => _connection.Dispose();

    private static bool IsParquet(string path)
    {
        Span<byte> head = stackalloc byte[4];
        try
        {
            using var file = File.OpenRead(path);
            return file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(ParquetMagic);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;   // TraceFile.Open says why.
        }
    }

    /// <summary>Copies the stream's batches into table <paramref name="table"/>, through DuckDB's Arrow scan.</summary>
    private unsafe void Load(string table, TraceBatchStream batches, string path)
    {
        var scan = table + "_scan";
        var stream = CArrowArrayStream.Create();
        try
        {
            CArrowArrayStreamExporter.ExportArrayStream(batches, stream);
            if (Interop.DuckDb.ArrowScan(_connection.NativeConnection, scan, stream) != 0)
                throw new UtraceException(TraceErrorKind.InvalidData, $"DuckDB cannot read the columns of '{path}'.", "Read the file with Import-UTrace.", path);
            ReadFile(() => Execute($"CREATE TABLE {table} AS SELECT * FROM {scan}"), path, "Read the file with Import-UTrace.");
            Execute($"DROP VIEW {scan}");
        }
        finally
        {
            // DuckDB reads the stream but leaves its release to us.
            Interop.DuckDb.Release(stream);
            CArrowArrayStream.Free(stream);
        }
    }

    private void AddFunctions(string table, TraceContext context)
    {
        Execute($"CREATE TABLE {table} (function_id INTEGER, name VARCHAR, module VARCHAR, program VARCHAR)");
        using var appender = _connection.CreateAppender(table);
        for (var id = 0; id < context.Functions.Count; id++)
        {
            var function = context.Functions[id];
            appender.CreateRow().AppendValue(id).AppendValue(function.Name).AppendValue(function.Module).AppendValue(function.Program).EndRow();
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Runs a statement that reads <paramref name="path"/>, a DuckDB failure becoming a file error.</summary>
    private static void ReadFile(Action statement, string path, string hint)
    {
        try
        {
            statement();
        }
        catch (DuckDBException ex) when (ex.ErrorType == DuckDBErrorType.Interrupt)
        {
            throw new OperationCanceledException(ex.Message, ex);
        }
        catch (DuckDBException ex)
        {
            throw new UtraceException(TraceErrorKind.InvalidData, $"Cannot read '{path}': {ex.Message}", hint, path, inner: ex);
        }
    }

    private static Exception QueryFailed(DuckDBException ex, string sql)
    {
        if (ex.ErrorType == DuckDBErrorType.Interrupt)
            return new OperationCanceledException(ex.Message, ex);
        // A statement that does not prepare comes with no error type, only DuckDB's message.
        if (ex.ErrorType == DuckDBErrorType.Parser || ex.Message.StartsWith("Parser Error:", StringComparison.Ordinal))
            return SyntaxError(ex.Message, sql, ex);
        return new UtraceException(TraceErrorKind.InvalidArgument, ex.Message,
            $"The trace files are the view '{CallsView}'; Get-Help about_Utrace_Query lists its columns.", sql, inner: ex, errorId: "InvalidQuery");
    }

    private static UtraceException SyntaxError(string message, string sql, Exception? inner) =>
        new(TraceErrorKind.InvalidArgument, message, "Check the query's syntax: DuckDB's SQL dialect.", sql, inner: inner, errorId: "QuerySyntaxError");
}
