using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace Utrace.Native.Query;

/// <summary>
/// The record batches of one trace file as an Arrow stream for DuckDB: read from the file one at a
/// time, with every duration[ns] column (format 2) retyped, without a copy, to int64 nanoseconds,
/// which DuckDB sums and ranks as numbers (it reads a duration as an INTERVAL, rounded to
/// microseconds). A file cut short ends at its last complete batch, as Import-UTrace reads it.
/// </summary>
internal sealed class TraceBatchStream : IArrowArrayStream
{
    private readonly FileStream _file;
    private readonly ArrowStreamReader _reader;

    public TraceBatchStream(string path)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20, FileOptions.SequentialScan);
        _reader = new ArrowStreamReader(_file);
        Schema = WithoutDurations(_reader.Schema);
    }

    /// <summary>The file's schema, durations as int64 and without the schema metadata (the engine reads that from <see cref="TraceFile"/>).</summary>
    public Schema Schema { get; }

    /// <summary>Rows handed out so far.</summary>
    public long Rows { get; private set; }

    /// <summary>True once the end of the file was met inside a batch.</summary>
    public bool WasCut { get; private set; }

    public async ValueTask<RecordBatch?> ReadNextRecordBatchAsync(CancellationToken cancellationToken = default)
    {
        RecordBatch? batch;
        try
        {
            batch = await _reader.ReadNextRecordBatchAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            WasCut = true;
            return null;
        }
        if (batch is null)
            return null;
        Rows += batch.Length;
        var columns = new IArrowArray[batch.ColumnCount];
        for (var i = 0; i < columns.Length; i++)
        {
            var column = batch.Column(i);
            columns[i] = column.Data.DataType is DurationType ? new Int64Array(Retyped(column.Data)) : column;
        }
        return new RecordBatch(Schema, columns, batch.Length);
    }

    public void Dispose()
    {
        _reader.Dispose();
        _file.Dispose();
    }

    /// <summary><paramref name="schema"/> with each duration field an int64 field of the same name.</summary>
    internal static Schema WithoutDurations(Schema schema) =>
        new(schema.FieldsList.Select(field => field.DataType is DurationType
            ? new Field(field.Name, Int64Type.Default, field.IsNullable, field.Metadata)
            : field), metadata: null);

    private static ArrayData Retyped(ArrayData data) =>
        new(Int64Type.Default, data.Length, data.NullCount, data.Offset, data.Buffers, data.Children, data.Dictionary);
}
