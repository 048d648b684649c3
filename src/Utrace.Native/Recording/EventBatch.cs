using System.Runtime.InteropServices;
using Apache.Arrow;

namespace Utrace.Native.Recording;

/// <summary>
/// One record batch of a trace file as column spans, so a report can aggregate without an
/// object per call. Function and caller ids are checked against the file's function table;
/// an outermost call's caller id is -1. Valid only until the reader moves to the next batch.
/// </summary>
internal sealed class EventBatch
{
    private int[] _callerIds = [];
    private Int32Array? _functionIds;
    private Int32Array? _processIds;
    private Int32Array? _threadIds;
    private Int32Array? _depths;
    private UInt64Array? _starts;
    private PrimitiveArray<long>? _durations;
    private PrimitiveArray<long>? _selfTimes;
    private UInt8Array? _kinds;

    // The kinds of a batch whose kind column is text (format 2), or of one without a kind column (all timed, before 1.2).
    private byte[] _kindBytes = [];
    private PrimitiveArray<long>? _probeCosts;
    private PrimitiveArray<long>? _selfProbeCosts;
    private Int32Array? _callsInside;
    private PrimitiveArray<long>? _rawOnCpu;

    public int Length { get; private set; }

    /// <summary>The record batch itself, for columns a trace has only sometimes (captures).</summary>
    public RecordBatch Source { get; private set; } = null!;

    public ReadOnlySpan<int> FunctionIds => _functionIds!.Values;
    public ReadOnlySpan<int> CallerIds => _callerIds.AsSpan(0, Length);
    public ReadOnlySpan<int> ProcessIds => _processIds!.Values;
    public ReadOnlySpan<int> ThreadIds => _threadIds!.Values;
    public ReadOnlySpan<int> Depths => _depths!.Values;
    public ReadOnlySpan<ulong> StartsMonotonicNs => _starts!.Values;
    public ReadOnlySpan<long> DurationsNs => _durations!.Values;
    public ReadOnlySpan<long> SelfTimesNs => _selfTimes!.Values;

    /// <summary>What the probes took of each call's duration (the raw duration stays as measured); empty in a file from before 1.3.</summary>
    public ReadOnlySpan<long> ProbeCostsNs => _probeCosts is null ? default : _probeCosts.Values;

    /// <summary>What the probes took of each call's self time; empty in a file from before 1.3.</summary>
    public ReadOnlySpan<long> SelfProbeCostsNs => _selfProbeCosts is null ? default : _selfProbeCosts.Values;

    /// <summary>Each call's <see cref="CallKind"/>; all timed in a file from before the kind column.</summary>
    public ReadOnlySpan<CallKind> Kinds => MemoryMarshal.Cast<byte, CallKind>(_kinds is null ? _kindBytes.AsSpan(0, Length) : _kinds.Values);

    /// <summary>Row <paramref name="row"/> as a call of <paramref name="context"/>, the trace whose table the ids index.</summary>
    public TracedCall CallAt(TraceContext context, int row, CapturedCall? captured = null) =>
        new(context, Kinds[row], FunctionIds[row], CallerIds[row], ProcessIds[row], ThreadIds[row], Depths[row],
            StartsMonotonicNs[row], DurationsNs[row], SelfTimesNs[row], captured, ProbesAt(row), RawOnCpuAt(row));

    /// <summary>Row <paramref name="row"/>'s time on a CPU as measured; TracedCall.UnknownOnCpu for an entry-only call and in a file from before 1.4.</summary>
    public long RawOnCpuAt(int row) => _rawOnCpu is null || _rawOnCpu.IsNull(row) ? TracedCall.UnknownOnCpu : _rawOnCpu.Values[row];

    /// <summary>Row <paramref name="row"/>'s probe cost; none in a file from before 1.3.</summary>
    private ProbeAccount ProbesAt(int row) => _probeCosts is null
        ? default
        : new ProbeAccount(ProbeCostsNs[row], SelfProbeCostsNs[row], _callsInside!.Values[row]);

    /// <summary>
    /// Points the spans at <paramref name="batch"/>'s columns (indexes in <paramref name="columns"/>,
    /// in TraceFile's order; the kind's, the probe costs' and the on-CPU time's are -1 in a file without them). Returns what is damaged
    /// (an id not in a table of <paramref name="functionCount"/> functions, an unknown kind), or null.
    /// </summary>
    public string? Load(RecordBatch batch, int[] columns, int functionCount)
    {
        Source = batch;
        Length = batch.Length;
        _functionIds = (Int32Array)batch.Column(columns[0]);
        var callers = (Int32Array)batch.Column(columns[1]);
        _processIds = (Int32Array)batch.Column(columns[2]);
        _threadIds = (Int32Array)batch.Column(columns[3]);
        _depths = (Int32Array)batch.Column(columns[4]);
        _starts = (UInt64Array)batch.Column(columns[5]);
        _durations = (PrimitiveArray<long>)batch.Column(columns[6]);
        _selfTimes = (PrimitiveArray<long>)batch.Column(columns[7]);
        _probeCosts = columns[9] < 0 ? null : (PrimitiveArray<long>)batch.Column(columns[9]);
        _selfProbeCosts = columns[10] < 0 ? null : (PrimitiveArray<long>)batch.Column(columns[10]);
        _callsInside = columns[11] < 0 ? null : (Int32Array)batch.Column(columns[11]);
        _rawOnCpu = columns[12] < 0 ? null : (PrimitiveArray<long>)batch.Column(columns[12]);
        var kinds = columns[8] < 0 ? null : batch.Column(columns[8]);
        _kinds = kinds as UInt8Array;
        if (_kinds is null && _kindBytes.Length < Length)
            _kindBytes = new byte[Length];
        if (kinds is null)
            _kindBytes.AsSpan(0, Length).Clear();
        else if (kinds is StringArray names && ReadKindNames(names) is { } unknown)
            return unknown;

        if (_callerIds.Length < Length)
            _callerIds = new int[Length];
        var callerIds = _callerIds.AsSpan(0, Length);
        callers.Values.CopyTo(callerIds);
        if (callers.NullCount > 0)
        {
            for (var i = 0; i < callerIds.Length; i++)
            {
                if (callers.IsNull(i))
                    callerIds[i] = -1;
            }
        }

        // One pass over each id column: an id outside the table is a damaged file, not a crash later.
        foreach (var id in FunctionIds)
        {
            if ((uint)id >= (uint)functionCount)
                return NotInTable(id, functionCount);
        }
        foreach (var id in callerIds)
        {
            if (id < -1 || id >= functionCount)
                return NotInTable(id, functionCount);
        }
        foreach (var kind in Kinds)
        {
            if (kind is not (CallKind.Timed or CallKind.EntryOnly))
                return $"an event has kind {(byte)kind}, which is neither timed (0) nor entry-only (1)";
        }
        return null;
    }

    // Format 2 names the kind; the rows are turned into CallKinds once, for the span.
    private string? ReadKindNames(StringArray names)
    {
        for (var i = 0; i < Length; i++)
        {
            var name = names.GetBytes(i);
            if (name.SequenceEqual("timed"u8))
                _kindBytes[i] = (byte)CallKind.Timed;
            else if (name.SequenceEqual("entry_only"u8))
                _kindBytes[i] = (byte)CallKind.EntryOnly;
            else
                return $"an event has kind '{names.GetString(i)}', which is neither {TraceFileFormat.TimedKind} nor {TraceFileFormat.EntryOnlyKind}";
        }
        return null;
    }

    private static string NotInTable(int id, int functionCount) =>
        $"an event names function {id}, which its function table of {functionCount} does not have";
}
