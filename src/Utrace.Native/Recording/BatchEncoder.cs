using System.Runtime.InteropServices;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;
using Utrace.Native.Bpf;

namespace Utrace.Native.Recording;

/// <summary>
/// Turns a chunk of calls into an Arrow record batch, column by column (TraceFileFormat.Columns). The
/// column buffers are reused: a batch is only valid until the next call.
/// </summary>
internal sealed class BatchEncoder
{
    private readonly Schema _schema;
    private readonly ColumnBuffer[] _columns = TraceFileFormat.Columns.Select(ColumnBuffer.For).ToArray();

    // The capture columns (TraceFileFormat.CaptureFields), used only by traces with -Capture: a call has at most
    // Abi.MaxArguments registers and strings.
    private const int MaxCaptureItems = EventChunk.Capacity * Abi.MaxArguments;
    private readonly byte[] _argumentOffsets = [];
    private readonly byte[] _argumentValid = [];
    private readonly byte[] _argumentValues = [];
    private readonly byte[] _stringListOffsets = [];
    private readonly byte[] _stringListValid = [];
    private readonly byte[] _stringOffsets = [];
    private readonly byte[] _stringValid = [];
    private byte[] _stringData = [];
    private readonly byte[] _returnValues = [];
    private readonly byte[] _returnValid = [];

    public BatchEncoder(Schema schema)
    {
        _schema = schema;
        if (schema.FieldsList.Count == TraceFileFormat.Columns.Length)
            return;
        _argumentOffsets = new byte[(EventChunk.Capacity + 1) * sizeof(int)];
        _argumentValid = new byte[(EventChunk.Capacity + 7) / 8];
        _argumentValues = new byte[MaxCaptureItems * sizeof(ulong)];
        _stringListOffsets = new byte[(EventChunk.Capacity + 1) * sizeof(int)];
        _stringListValid = new byte[(EventChunk.Capacity + 7) / 8];
        _stringOffsets = new byte[(MaxCaptureItems + 1) * sizeof(int)];
        _stringValid = new byte[(MaxCaptureItems + 7) / 8];
        _stringData = new byte[64 * 1024];
        _returnValues = new byte[EventChunk.Capacity * sizeof(ulong)];
        _returnValid = new byte[(EventChunk.Capacity + 7) / 8];
    }

    /// <summary>The batch of <paramref name="calls"/> (at most EventChunk.Capacity); with the capture columns when the schema has them.</summary>
    public RecordBatch Encode(ReadOnlySpan<TracedCall> calls)
    {
        var columns = new List<IArrowArray>(_schema.FieldsList.Count);
        for (var i = 0; i < _columns.Length; i++)
            columns.Add(_columns[i].Encode(TraceFileFormat.Columns[i], calls));
        if (_schema.FieldsList.Count > _columns.Length)
            columns.AddRange(CaptureColumns(calls));
        return new RecordBatch(_schema, columns, calls.Length);
    }

    /// <summary>
    /// The columns of TraceFileFormat.CaptureFields, in reused buffers as the others: Arrow's builders
    /// allocated a few large buffers per batch, whose collections held up the ring-buffer reader.
    /// </summary>
    private IArrowArray[] CaptureColumns(ReadOnlySpan<TracedCall> calls)
    {
        var n = calls.Length;
        var validBytes = (n + 7) / 8;
        var argumentOffsets = MemoryMarshal.Cast<byte, int>(_argumentOffsets.AsSpan());
        var argumentValues = MemoryMarshal.Cast<byte, ulong>(_argumentValues.AsSpan());
        var stringListOffsets = MemoryMarshal.Cast<byte, int>(_stringListOffsets.AsSpan());
        var stringOffsets = MemoryMarshal.Cast<byte, int>(_stringOffsets.AsSpan());
        var returnValues = MemoryMarshal.Cast<byte, ulong>(_returnValues.AsSpan());
        _argumentValid.AsSpan(0, validBytes).Clear();
        _stringListValid.AsSpan(0, validBytes).Clear();
        _returnValid.AsSpan(0, validBytes).Clear();
        _stringValid.AsSpan().Clear();
        int argumentCount = 0, stringCount = 0, dataBytes = 0, argumentNulls = 0, stringListNulls = 0, stringNulls = 0, returnNulls = 0;
        for (var i = 0; i < n; i++)
        {
            var call = calls[i].Captured;
            argumentOffsets[i] = argumentCount;
            var registers = call is null ? default : call.RegisterValues;
            if (!registers.IsEmpty)
            {
                SetValid(_argumentValid, i);
                registers.CopyTo(argumentValues[argumentCount..]);
                argumentCount += registers.Length;
            }
            else
            {
                argumentNulls++;
            }
            stringListOffsets[i] = stringCount;
            if (call?.Strings is { } strings)
            {
                SetValid(_stringListValid, i);
                for (var a = 0; a < strings.Count; a++)
                {
                    stringOffsets[stringCount] = dataBytes;
                    if (strings[a] is { } text)
                    {
                        SetValid(_stringValid, stringCount);
                        var length = Encoding.UTF8.GetByteCount(text);
                        if (dataBytes + length > _stringData.Length)
                            System.Array.Resize(ref _stringData, Math.Max(2 * _stringData.Length, dataBytes + length));
                        dataBytes += Encoding.UTF8.GetBytes(text, _stringData.AsSpan(dataBytes));
                    }
                    else
                    {
                        stringNulls++;
                    }
                    stringCount++;
                }
            }
            else
            {
                stringListNulls++;
            }
            if (call?.ReturnValue is { } value)
            {
                SetValid(_returnValid, i);
                returnValues[i] = value;
            }
            else
            {
                returnValues[i] = 0;
                returnNulls++;
            }
        }
        argumentOffsets[n] = argumentCount;
        stringListOffsets[n] = stringCount;
        stringOffsets[stringCount] = dataBytes;
        var argumentItems = new UInt64Array(Buffer(_argumentValues, argumentCount * sizeof(ulong)), ArrowBuffer.Empty, argumentCount, 0, 0);
        var stringItems = new StringArray(stringCount, Buffer(_stringOffsets, (stringCount + 1) * sizeof(int)), Buffer(_stringData, dataBytes),
            Buffer(_stringValid, (stringCount + 7) / 8), stringNulls);
        return
        [
            new ListArray(TraceFileFormat.CaptureFields[0].DataType, n, Buffer(_argumentOffsets, (n + 1) * sizeof(int)), argumentItems,
                Buffer(_argumentValid, validBytes), argumentNulls),
            new ListArray(TraceFileFormat.CaptureFields[1].DataType, n, Buffer(_stringListOffsets, (n + 1) * sizeof(int)), stringItems,
                Buffer(_stringListValid, validBytes), stringListNulls),
            new UInt64Array(Buffer(_returnValues, n * sizeof(ulong)), Buffer(_returnValid, validBytes), n, returnNulls, 0),
        ];
    }

    private static void SetValid(byte[] bitmap, int index) => bitmap[index >> 3] |= (byte)(1 << (index & 7));

    private static ArrowBuffer Buffer(byte[] bytes, int length) => new(bytes.AsMemory(0, length));

    /// <summary>The reused buffers of one column of TraceFileFormat.Columns.</summary>
    private abstract class ColumnBuffer
    {
        protected readonly byte[] Valid = new byte[(EventChunk.Capacity + 7) / 8];

        public static ColumnBuffer For(TraceColumn column) => column.Text is not null
            ? new TextBuffer()
            : new FixedBuffer(((FixedWidthType)column.Type).BitWidth / 8);

        public abstract IArrowArray Encode(TraceColumn column, ReadOnlySpan<TracedCall> calls);

        protected ArrowBuffer Validity(int length, int nulls) => nulls == 0 ? ArrowBuffer.Empty : Buffer(Valid, (length + 7) / 8);
    }

    /// <summary>An int32 or a 64-bit column.</summary>
    private sealed class FixedBuffer(int width) : ColumnBuffer
    {
        private readonly byte[] _values = new byte[EventChunk.Capacity * width];

        public override IArrowArray Encode(TraceColumn column, ReadOnlySpan<TracedCall> calls)
        {
            var n = calls.Length;
            Valid.AsSpan(0, (n + 7) / 8).Clear();
            var nulls = 0;
            var values32 = MemoryMarshal.Cast<byte, int>(_values.AsSpan());
            var values64 = MemoryMarshal.Cast<byte, long>(_values.AsSpan());
            for (var i = 0; i < n; i++)
            {
                var value = column.Value!(in calls[i]);
                if (value is null)
                    nulls++;
                else
                    SetValid(Valid, i);
                if (width == sizeof(int))
                    values32[i] = (int)value.GetValueOrDefault();
                else
                    values64[i] = value.GetValueOrDefault();
            }
            return ArrowArrayFactory.BuildArray(new ArrayData(column.Type, n, nulls, 0, [Validity(n, nulls), Buffer(_values, n * width)]));
        }
    }

    /// <summary>A utf8 column.</summary>
    private sealed class TextBuffer : ColumnBuffer
    {
        private readonly byte[] _offsets = new byte[(EventChunk.Capacity + 1) * sizeof(int)];
        private byte[] _data = new byte[64 * 1024];

        public override IArrowArray Encode(TraceColumn column, ReadOnlySpan<TracedCall> calls)
        {
            var n = calls.Length;
            Valid.AsSpan(0, (n + 7) / 8).Clear();
            var offsets = MemoryMarshal.Cast<byte, int>(_offsets.AsSpan());
            int nulls = 0, bytes = 0;
            for (var i = 0; i < n; i++)
            {
                offsets[i] = bytes;
                if (column.Text!(in calls[i]) is not { } text)
                {
                    nulls++;
                    continue;
                }
                SetValid(Valid, i);
                var length = Encoding.UTF8.GetByteCount(text);
                if (bytes + length > _data.Length)
                    System.Array.Resize(ref _data, Math.Max(2 * _data.Length, bytes + length));
                bytes += Encoding.UTF8.GetBytes(text, _data.AsSpan(bytes));
            }
            offsets[n] = bytes;
            return new StringArray(n, Buffer(_offsets, (n + 1) * sizeof(int)), Buffer(_data, bytes), Validity(n, nulls), nulls);
        }
    }
}
