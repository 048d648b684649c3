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
    private Int64Array? _durations;
    private Int64Array? _selfTimes;

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

    /// <summary>
    /// Points the spans at <paramref name="batch"/>'s columns (indexes in <paramref name="columns"/>,
    /// in TraceFileFormat's order). Returns the first id that is not in a table of
    /// <paramref name="functionCount"/> functions, or null when every id is.
    /// </summary>
    public int? Load(RecordBatch batch, int[] columns, int functionCount)
    {
        Source = batch;
        Length = batch.Length;
        _functionIds = (Int32Array)batch.Column(columns[0]);
        var callers = (Int32Array)batch.Column(columns[1]);
        _processIds = (Int32Array)batch.Column(columns[2]);
        _threadIds = (Int32Array)batch.Column(columns[3]);
        _depths = (Int32Array)batch.Column(columns[4]);
        _starts = (UInt64Array)batch.Column(columns[5]);
        _durations = (Int64Array)batch.Column(columns[6]);
        _selfTimes = (Int64Array)batch.Column(columns[7]);

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
                return id;
        }
        foreach (var id in callerIds)
        {
            if (id < -1 || id >= functionCount)
                return id;
        }
        return null;
    }
}
