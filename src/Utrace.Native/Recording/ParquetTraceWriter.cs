using System.Text.Json;
using Apache.Arrow.Types;
using Microsoft.Win32.SafeHandles;
using Parquet;
using Parquet.Schema;
using Utrace.Native.Tracing;

namespace Utrace.Native.Recording;

/// <summary>
/// Writes calls to a Parquet file with the columns of a trace file (TraceFileFormat.Columns; not the capture columns):
/// names as strings (Parquet dictionary-encodes them itself), start as TIMESTAMP(NANOS, UTC), durations as INT64
/// nanoseconds (Parquet has no duration type), each column's unit and meaning in its key-value metadata, and the trace
/// file's schema metadata (function table, clock anchor) in the file's.
/// </summary>
internal sealed class ParquetTraceWriter : IDisposable
{
    private const int RowGroupSize = 1 << 17;

    private readonly string _path;
    private readonly SafeFileHandle _file;
    private readonly FileStream _stream;
    private readonly DataField[] _fields = TraceFileFormat.Columns.Select(FieldOf).ToArray();
    private readonly ParquetWriter _writer;
    private readonly TracedCall[] _calls = new TracedCall[RowGroupSize];
    private int _count;
    private bool _disposed;

    private ParquetTraceWriter(string path, SafeFileHandle file)
    {
        _path = path;
        _file = file;
        _stream = new FileStream(file, FileAccess.ReadWrite);
        _writer = Run(ParquetWriter.CreateAsync(new ParquetSchema(_fields), _stream));
    }

    /// <summary>Creates the file now, under the rules of <see cref="OutputFile"/>.</summary>
    public static ParquetTraceWriter Create(string path, string parameter)
    {
        var (fullPath, file, created) = OutputFile.Open(path, parameter);
        try
        {
            if (!created)
                OutputFile.Empty(file);
            return new ParquetTraceWriter(fullPath, file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            file.Dispose();
            throw Failed(fullPath, ex);
        }
    }

    public void Add(in TracedCall call)
    {
        _calls[_count++] = call;
        if (_count == RowGroupSize)
            WriteRowGroup();
    }

    /// <summary>Writes the last row group and the footer, with <paramref name="context"/>'s function table as it is now.</summary>
    /// <exception cref="UtraceException">Writing failed.</exception>
    public void Complete(TraceContext context, TraceOrigin origin)
    {
        if (_count > 0)
            WriteRowGroup();
        var metadata = TraceFileFormat.BuildSchema(context, origin).Metadata.ToDictionary();
        metadata[ColumnsKey] = JsonSerializer.Serialize(TraceFileFormat.Columns.Select(c => new { name = c.Name, unit = c.Unit, meaning = c.Meaning }));
        _writer.CustomMetadata = metadata;
        Dispose();
    }

    /// <summary>The file metadata key of the columns' units and meanings (also in each column chunk's metadata, but the strings').</summary>
    public const string ColumnsKey = "utrace.columns";

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            Run(_writer.DisposeAsync().AsTask());
            _stream.Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Failed(_path, ex);
        }
        finally
        {
            _file.Dispose();
        }
    }

    private void WriteRowGroup()
    {
        try
        {
            using var group = _writer.CreateRowGroup();
            var calls = _calls.AsSpan(0, _count);
            for (var i = 0; i < _fields.Length; i++)
                WriteColumn(group, TraceFileFormat.Columns[i], _fields[i], calls);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Failed(_path, ex);
        }
        _calls.AsSpan(0, _count).Clear();
        _count = 0;
    }

    private static void WriteColumn(ParquetRowGroupWriter group, TraceColumn column, DataField field, ReadOnlySpan<TracedCall> calls)
    {
        var metadata = TraceFileFormat.Describe(column.Unit, column.Meaning);
        switch (column.Type)
        {
            case StringType:
                var texts = new string?[calls.Length];
                for (var i = 0; i < calls.Length; i++)
                    texts[i] = column.Text!(in calls[i]);
                Run(group.WriteAsync(field, texts));
                break;
            case TimestampType:
                // .NET's DateTime counts 100 ns ticks: the nanoseconds are in start_ns.
                Run(group.WriteAsync(field, Values(column, calls, ns => DateTime.UnixEpoch.AddTicks(ns!.Value / 100)), null, metadata));
                break;
            case UInt64Type:
                Run(group.WriteAsync(field, Values(column, calls, value => (ulong)value!.Value), null, metadata));
                break;
            case Int32Type when column.Nullable:
                Run(group.WriteAsync(field, Values(column, calls, value => (int?)value), null, metadata));
                break;
            case Int32Type:
                Run(group.WriteAsync(field, Values(column, calls, value => (int)value!.Value), null, metadata));
                break;
            default:
                Run(group.WriteAsync(field, Values(column, calls, value => value), null, metadata));
                break;
        }
    }

    /// <summary>The column's value of each call, as the Parquet field's type.</summary>
    private static ReadOnlyMemory<T> Values<T>(TraceColumn column, ReadOnlySpan<TracedCall> calls, Func<long?, T> convert)
    {
        var values = new T[calls.Length];
        for (var i = 0; i < calls.Length; i++)
            values[i] = convert(column.Value!(in calls[i]));
        return values;
    }

    /// <summary>The Parquet field of a trace file column: durations (and any other 64-bit column) as nullable INT64.</summary>
    private static DataField FieldOf(TraceColumn column) => column.Type switch
    {
        StringType => new DataField<string>(column.Name, column.Nullable),
        TimestampType => new DateTimeDataField(column.Name, DateTimeFormat.Timestamp, isAdjustedToUTC: true, DateTimeTimeUnit.Nanos, column.Nullable),
        UInt64Type => new DataField<ulong>(column.Name, column.Nullable),
        Int32Type when column.Nullable => new DataField<int?>(column.Name, true),
        Int32Type => new DataField<int>(column.Name, false),
        _ => new DataField<long?>(column.Name, true),
    };

    // Parquet.Net's API is asynchronous; the export runs on the cmdlet's thread, which has no synchronization context.
    private static void Run(Task task) => task.GetAwaiter().GetResult();

    private static T Run<T>(Task<T> task) => task.GetAwaiter().GetResult();

    private static UtraceException Failed(string path, Exception ex) =>
        new(TraceErrorKind.ResourceUnavailable, $"Writing the Parquet file '{path}' failed: {ex.Message}",
            "Free some space, or write to another disk.", path, inner: ex, errorId: "ExportNotWritten");
}
