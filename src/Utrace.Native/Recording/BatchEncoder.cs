using System.Runtime.InteropServices;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;
using Utrace.Native.Bpf;

namespace Utrace.Native.Recording;

/// <summary>
/// Turns a chunk of calls into an Arrow record batch, column by column. The column buffers
/// are reused: a batch is only valid until the next call.
/// </summary>
internal sealed class BatchEncoder
{
    private const int ColumnsWithoutCaptures = 13;
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
    private readonly byte[] _kinds = new byte[EventChunk.Capacity];
    private readonly byte[] _probeCosts = new byte[EventChunk.Capacity * sizeof(long)];
    private readonly byte[] _selfProbeCosts = new byte[EventChunk.Capacity * sizeof(long)];
    private readonly byte[] _callsInside = new byte[EventChunk.Capacity * sizeof(int)];
    private readonly byte[] _onCpu = new byte[EventChunk.Capacity * sizeof(long)];
    private readonly byte[] _onCpuValid = new byte[(EventChunk.Capacity + 7) / 8];

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
        if (schema.FieldsList.Count == ColumnsWithoutCaptures)
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

    /// <summary>The batch of <paramref name="calls"/>; with the capture columns when the schema has them.</summary>
    public RecordBatch Encode(ReadOnlySpan<TracedCall> calls)
    {
        var n = calls.Length;
        var functionIds = MemoryMarshal.Cast<byte, int>(_functionIds.AsSpan());
        var callerIds = MemoryMarshal.Cast<byte, int>(_callerIds.AsSpan());
        var processIds = MemoryMarshal.Cast<byte, int>(_processIds.AsSpan());
        var threadIds = MemoryMarshal.Cast<byte, int>(_threadIds.AsSpan());
        var depths = MemoryMarshal.Cast<byte, int>(_depths.AsSpan());
        var starts = MemoryMarshal.Cast<byte, ulong>(_starts.AsSpan());
        var durations = MemoryMarshal.Cast<byte, long>(_durations.AsSpan());
        var selfTimes = MemoryMarshal.Cast<byte, long>(_selfTimes.AsSpan());
        var probeCosts = MemoryMarshal.Cast<byte, long>(_probeCosts.AsSpan());
        var selfProbeCosts = MemoryMarshal.Cast<byte, long>(_selfProbeCosts.AsSpan());
        var callsInside = MemoryMarshal.Cast<byte, int>(_callsInside.AsSpan());
        var onCpu = MemoryMarshal.Cast<byte, long>(_onCpu.AsSpan());
        var validBytes = (n + 7) / 8;
        _callerValid.AsSpan(0, validBytes).Clear();
        _onCpuValid.AsSpan(0, validBytes).Clear();
        int outermost = 0, onCpuUnknown = 0;
        for (var i = 0; i < n; i++)
        {
            ref readonly var c = ref calls[i];
            functionIds[i] = c.FunctionId;
            if (c.CallerId < 0)
            {
                callerIds[i] = 0;
                outermost++;
            }
            else
            {
                callerIds[i] = c.CallerId;
                _callerValid[i >> 3] |= (byte)(1 << (i & 7));
            }
            processIds[i] = c.ProcessId;
            threadIds[i] = c.ThreadId;
            depths[i] = c.Depth;
            starts[i] = c.StartMonotonicNs;
            durations[i] = c.RawDurationNs;
            selfTimes[i] = c.RawSelfNs;
            _kinds[i] = (byte)c.Kind;
            probeCosts[i] = c.Probes.CostNs;
            selfProbeCosts[i] = c.Probes.SelfCostNs;
            callsInside[i] = c.Probes.CallsInside;
            onCpu[i] = Math.Max(0, c.RawOnCpuNs);
            if (c.RawOnCpuNs < 0)
                onCpuUnknown++;
            else
                SetValid(_onCpuValid, i);
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
            new UInt8Array(Buffer(_kinds, n), ArrowBuffer.Empty, n, 0, 0),
            new Int64Array(Buffer(_probeCosts, n * sizeof(long)), ArrowBuffer.Empty, n, 0, 0),
            new Int64Array(Buffer(_selfProbeCosts, n * sizeof(long)), ArrowBuffer.Empty, n, 0, 0),
            new Int32Array(Buffer(_callsInside, n * sizeof(int)), ArrowBuffer.Empty, n, 0, 0),
            new Int64Array(Buffer(_onCpu, n * sizeof(long)), Buffer(_onCpuValid, validBytes), n, onCpuUnknown, 0),
        ];
        if (_schema.FieldsList.Count > ColumnsWithoutCaptures)
            columns.AddRange(CaptureColumns(calls));
        return new RecordBatch(_schema, columns, n);
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
}
