using Utrace.Native.Elf;

namespace Utrace.Native.Recording;

/// <summary>What Export-UTrace writes.</summary>
public enum TraceExportFormat
{
    /// <summary>A trace file (an Arrow IPC stream, docs/trace-format.md), which Import-UTrace reads back.</summary>
    Arrow,

    /// <summary>A Parquet file with the trace file's columns, for data tools (DuckDB, pandas, polars, Spark).</summary>
    Parquet,
}

/// <summary>
/// Writes CallEvents of any traces (live, read from files, deserialized) to one file. The calls are moved onto one
/// trace of their own: a function table that grows as functions arrive (the same function of two traces is one
/// entry), the clock anchor of the first call's trace, and the host of each call's own trace.
/// </summary>
internal sealed class TraceExport : IDisposable
{
    private readonly TraceFileWriter? _arrow;
    private readonly ParquetTraceWriter? _parquet;
    private readonly GrowingFunctionTable _functions = new([]);
    private readonly List<CaptureSpec?> _captures = [];
    private readonly Dictionary<FunctionKey, int> _ids = [];
    private readonly Dictionary<string, TraceContext> _hosts = new(StringComparer.Ordinal);
    private readonly Dictionary<(TraceContext Trace, int Id), int> _lastTraceIds = [];
    private TraceContext? _first;
    private long _firstStartUnixNs;
    private bool _completed;

    private TraceExport(TraceFileWriter? arrow, ParquetTraceWriter? parquet) => (_arrow, _parquet) = (arrow, parquet);

    /// <summary>Creates the file now, under the rules of <see cref="OutputFile"/>; <paramref name="parameter"/> names the path in errors.</summary>
    public static TraceExport Create(string path, TraceExportFormat format, string parameter) => format == TraceExportFormat.Parquet
        ? new TraceExport(null, ParquetTraceWriter.Create(path, parameter))
        : new TraceExport(TraceFileWriter.Create(path, dropWhenBehind: false, parameter), null);

    public void Add(in TracedCall call)
    {
        if (_first is null)
            Begin(call.Context);
        var trace = ContextOf(call.ComputerName);
        var functionId = IdOf(call.Context, call.FunctionId);
        var callerId = call.CallerId < 0 ? -1 : IdOf(call.Context, call.CallerId);
        // On the first trace's clock, by wall-clock time: the first trace's calls keep their start_ns exactly.
        var startMonotonicNs = (ulong)((long)_first!.StartMonotonicNs + (call.StartUnixNs - _firstStartUnixNs));
        var moved = new TracedCall(trace, call.Kind, functionId, callerId, call.ProcessId, call.ThreadId, call.Depth, startMonotonicNs,
            call.RawDurationNs, call.RawSelfNs, call.Captured, call.Probes, call.RawOnCpuNs);
        if (_arrow is not null)
            ((IEventSink)_arrow).OnEvent(moved);
        else
            _parquet!.Add(moved);
    }

    /// <summary>Finishes the file (an empty trace when no call came).</summary>
    /// <exception cref="UtraceException">Writing failed.</exception>
    public void Complete()
    {
        if (_first is null)
            Begin(TraceContext.StartingNow([]));
        _completed = true;
        if (_arrow is not null)
        {
            ((IEventSink)_arrow).Complete();
            if (_arrow.Failure is { } failure)
                throw failure;
        }
        else
        {
            _parquet!.Complete(_first!, Origin);
        }
    }

    /// <summary>Closes the file; one that was never completed is left as far as it was written (a file made for no call is deleted).</summary>
    public void Dispose()
    {
        if (_completed)
            return;
        _arrow?.Dispose();
        _parquet?.Dispose();
    }

    private TraceOrigin Origin => new() { HostName = _first!.HostName };

    // The first trace's whole table comes first: its calls keep their function ids, and the file its room to grow.
    private void Begin(TraceContext trace)
    {
        _firstStartUnixNs = trace.ToWallClock(trace.StartMonotonicNs).UnixNanoseconds;
        _first = ContextOf(trace.HostName, trace);
        Append(trace, Enumerable.Range(0, trace.Functions.Count));
        if (_arrow is not null)
            ((IEventSink)_arrow).Begin(_first, Origin);
    }

    /// <summary>The export's context for calls of <paramref name="host"/>: one function table and clock, one host name each.</summary>
    private TraceContext ContextOf(string host, TraceContext? clock = null)
    {
        if (_hosts.TryGetValue(host, out var context))
            return context;
        clock ??= _first!;
        context = new TraceContext(_functions, clock.StartMonotonicNs, clock.ToWallClock(clock.StartMonotonicNs), _captures) { HostName = host };
        _hosts.Add(host, context);
        return context;
    }

    /// <summary>The export's id of function <paramref name="id"/> of <paramref name="trace"/>, appended on first sight.</summary>
    private int IdOf(TraceContext trace, int id)
    {
        if (_lastTraceIds.TryGetValue((trace, id), out var known))
            return known;
        if (!_ids.TryGetValue(KeyOf(trace, id), out known))
        {
            Append(trace, [id]);
            known = _functions.Count - 1;
        }
        // Traces read from text exports make a context per trace: keep this cache from growing without end.
        if (_lastTraceIds.Count > 1 << 20)
            _lastTraceIds.Clear();
        _lastTraceIds.Add((trace, id), known);
        return known;
    }

    /// <summary>
    /// Appends the functions <paramref name="ids"/> of <paramref name="trace"/> that the export lacks, in one go (a trace
    /// file's table is rewritten on each append), each with its capture spec.
    /// </summary>
    private void Append(TraceContext trace, IEnumerable<int> ids)
    {
        var added = new List<FunctionInfo>();
        foreach (var id in ids)
        {
            if (!_ids.TryAdd(KeyOf(trace, id), _functions.Count + added.Count))
                continue;
            _captures.Add(trace.CaptureOf(id));
            added.Add(trace.Functions[id]);
        }
        if (added.Count > 0)
            _functions.Append(added);
    }

    private static FunctionKey KeyOf(TraceContext trace, int id)
    {
        var f = trace.Functions[id];
        return new FunctionKey(f.Name, f.RawName, f.Module, f.Kind, f.Offset, f.Size, f.Path, f.Program, trace.CaptureOf(id)?.ToString());
    }

    private readonly record struct FunctionKey(string Name, string RawName, string Module, FunctionKind Kind, ulong Offset, ulong Size, string Path,
        string? Program, string? Capture);
}
