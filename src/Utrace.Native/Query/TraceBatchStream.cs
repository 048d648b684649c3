using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace Utrace.Native.Query;

/// <summary>
/// The record batches of one trace file as an Arrow stream for DuckDB: read from the file one at a
/// time, with every duration[ns] column (format 2) retyped, without a copy, to int64 nanoseconds,
/// which DuckDB sums and ranks as numbers (it reads a duration as an INTERVAL, rounded to
/// microseconds), and only the columns <see cref="Keep"/> names. A file cut short ends at its last
/// complete batch, as Import-UTrace reads it.
/// </summary>
internal sealed class TraceBatchStream : IArrowArrayStream
{
    private readonly FileStream _file;
    private readonly ArrowStreamReader _reader;
    private int[] _kept;

    public TraceBatchStream(string path)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20, FileOptions.SequentialScan);
        _reader = new ArrowStreamReader(_file);
        Schema = WithoutDurations(_reader.Schema, _kept = Enumerable.Range(0, _reader.Schema.FieldsList.Count).ToArray());
    }

    /// <summary>The columns handed out: durations as int64, no schema metadata (the engine reads that from <see cref="TraceFile"/>).</summary>
    public Schema Schema { get; private set; }

    /// <summary>The names of all the file's columns.</summary>
    public IReadOnlySet<string> FileColumns => _reader.Schema.FieldsList.Select(column => column.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>Rows handed out so far.</summary>
    public long Rows { get; private set; }

    /// <summary>True once the end of the file was met inside a batch.</summary>
    public bool WasCut { get; private set; }

    /// <summary>Hands out only the columns named in <paramref name="names"/>, in the file's order; call before reading.</summary>
    public void Keep(IReadOnlySet<string> names)
    {
        _kept = Enumerable.Range(0, _reader.Schema.FieldsList.Count).Where(i => names.Contains(_reader.Schema.GetFieldByIndex(i).Name)).ToArray();
        Schema = WithoutDurations(_reader.Schema, _kept);
    }

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
        var columns = new IArrowArray[_kept.Length];
        for (var i = 0; i < columns.Length; i++)
        {
            var column = batch.Column(_kept[i]);
            columns[i] = column.Data.DataType is DurationType ? new Int64Array(Retyped(column.Data)) : column;
        }
        return new RecordBatch(Schema, columns, batch.Length);
    }

    public void Dispose()
    {
        _reader.Dispose();
        _file.Dispose();
    }

    /// <summary>The fields <paramref name="kept"/> of <paramref name="schema"/>, each duration field an int64 field of the same name.</summary>
    private static Schema WithoutDurations(Schema schema, int[] kept) =>
        new(kept.Select(schema.GetFieldByIndex).Select(field => field.DataType is DurationType
            ? new Field(field.Name, Int64Type.Default, field.IsNullable, field.Metadata)
            : field), metadata: null);

    private static ArrayData Retyped(ArrayData data) =>
        new(Int64Type.Default, data.Length, data.NullCount, data.Offset, data.Buffers, data.Children, data.Dictionary);
}
