using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using Utrace.Native.Bpf;

namespace Utrace.Native.Recording;

/// <summary>
/// Turns a chunk of records into an Arrow record batch, column by column. The column buffers
/// are reused: a batch is only valid until the next call.
/// </summary>
internal sealed class BatchEncoder
{
    private readonly Schema _schema;
    private readonly byte[] _functionIds = new byte[EventChunk.Capacity * sizeof(int)];
    private readonly byte[] _callerIds = new byte[EventChunk.Capacity * sizeof(int)];
    private readonly byte[] _callerValid = new byte[(EventChunk.Capacity + 7) / 8];
    private readonly byte[] _processIds = new byte[EventChunk.Capacity * sizeof(int)];
    private readonly byte[] _threadIds = new byte[EventChunk.Capacity * sizeof(int)];
    private readonly byte[] _depths = new byte[EventChunk.Capacity * sizeof(int)];
    private readonly byte[] _starts = new byte[EventChunk.Capacity * sizeof(ulong)];
    private readonly byte[] _durations = new byte[EventChunk.Capacity * sizeof(long)];
    private readonly byte[] _selfTimes = new byte[EventChunk.Capacity * sizeof(long)];

    public BatchEncoder(Schema schema) => _schema = schema;

    /// <summary>The batch of <paramref name="records"/>; with the capture columns when the schema has them.</summary>
    public RecordBatch Encode(ReadOnlySpan<EventRecord> records, ReadOnlySpan<CapturedCall?> captured)
    {
        var n = records.Length;
        var functionIds = MemoryMarshal.Cast<byte, int>(_functionIds.AsSpan());
        var callerIds = MemoryMarshal.Cast<byte, int>(_callerIds.AsSpan());
        var processIds = MemoryMarshal.Cast<byte, int>(_processIds.AsSpan());
        var threadIds = MemoryMarshal.Cast<byte, int>(_threadIds.AsSpan());
        var depths = MemoryMarshal.Cast<byte, int>(_depths.AsSpan());
        var starts = MemoryMarshal.Cast<byte, ulong>(_starts.AsSpan());
        var durations = MemoryMarshal.Cast<byte, long>(_durations.AsSpan());
        var selfTimes = MemoryMarshal.Cast<byte, long>(_selfTimes.AsSpan());
        var validBytes = (n + 7) / 8;
        _callerValid.AsSpan(0, validBytes).Clear();
        var outermost = 0;
        for (var i = 0; i < n; i++)
        {
            ref readonly var r = ref records[i];
            functionIds[i] = (int)r.FunctionId;
            if (r.CallerId == EventRecord.NoCaller)
            {
                callerIds[i] = 0;
                outermost++;
            }
            else
            {
                callerIds[i] = (int)r.CallerId;
                _callerValid[i >> 3] |= (byte)(1 << (i & 7));
            }
            processIds[i] = (int)r.Pid;
            threadIds[i] = (int)r.Tid;
            depths[i] = (int)r.Depth;
            starts[i] = r.StartNs;
            durations[i] = (long)r.DurationNs;
            selfTimes[i] = (long)r.SelfNs;
        }
        List<IArrowArray> columns =
        [
            new Int32Array(Buffer(_functionIds, n * sizeof(int)), ArrowBuffer.Empty, n, 0, 0),
            new Int32Array(Buffer(_callerIds, n * sizeof(int)), Buffer(_callerValid, validBytes), n, outermost, 0),
            new Int32Array(Buffer(_processIds, n * sizeof(int)), ArrowBuffer.Empty, n, 0, 0),
            new Int32Array(Buffer(_threadIds, n * sizeof(int)), ArrowBuffer.Empty, n, 0, 0),
            new Int32Array(Buffer(_depths, n * sizeof(int)), ArrowBuffer.Empty, n, 0, 0),
            new UInt64Array(Buffer(_starts, n * sizeof(ulong)), ArrowBuffer.Empty, n, 0, 0),
            new Int64Array(Buffer(_durations, n * sizeof(long)), ArrowBuffer.Empty, n, 0, 0),
            new Int64Array(Buffer(_selfTimes, n * sizeof(long)), ArrowBuffer.Empty, n, 0, 0),
        ];
        if (_schema.FieldsList.Count > columns.Count)
            columns.AddRange(CaptureColumns(captured));
        return new RecordBatch(_schema, columns, n);
    }

    /// <summary>The columns of TraceFileFormat.CaptureFields; a rare path (captured calls only), so Arrow's builders do.</summary>
    private static IArrowArray[] CaptureColumns(ReadOnlySpan<CapturedCall?> captured)
    {
        var arguments = new ListArray.Builder(UInt64Type.Default);
        var argumentValues = (UInt64Array.Builder)arguments.ValueBuilder;
        var strings = new ListArray.Builder(StringType.Default);
        var stringValues = (StringArray.Builder)strings.ValueBuilder;
        var returnValues = new UInt64Array.Builder();
        foreach (var call in captured)
        {
            AppendList(arguments, call?.Registers, register => argumentValues.Append(register));
            AppendList(strings, call?.Strings, text => stringValues.Append(text));
            if (call?.ReturnValue is { } value)
                returnValues.Append(value);
            else
                returnValues.AppendNull();
        }
        return [arguments.Build(), strings.Build(), returnValues.Build()];
    }

    /// <summary>One row of a list column: null when <paramref name="items"/> is.</summary>
    private static void AppendList<T>(ListArray.Builder list, IReadOnlyList<T>? items, Action<T> appendItem)
    {
        if (items is null)
        {
            list.AppendNull();
            return;
        }
        list.Append();
        foreach (var item in items)
            appendItem(item);
    }

    private static ArrowBuffer Buffer(byte[] bytes, int length) => new(bytes.AsMemory(0, length));
}
