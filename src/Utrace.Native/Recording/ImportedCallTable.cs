using Utrace.Native.Elf;

namespace Utrace.Native.Recording;

/// <summary>
/// Makes CallEvents of calls known by name rather than by id (the rows of Export-Csv or
/// Export-Clixml, deserialized CallEvents). The calls of one trace (alike in host and in clock
/// anchor: Start less StartNs) share one context, whose function table grows as names arrive,
/// so every property reads as it did before the export.
/// </summary>
internal sealed class ImportedCallTable
{
    // Enough for the traces of a long session; past it the table starts again, which costs only sharing.
    private const int MaxTraces = 4096;

    private readonly Dictionary<(string ComputerName, long TraceStartUnixNs), Trace> _traces = [];

    /// <summary>
    /// A CallEvent of the call; <paramref name="startUnixNs"/> is its Start (wall clock, or null when
    /// the input did not say), and an export names a caller but not its module.
    /// </summary>
    public CallEvent Add(string function, string module, string? caller, string? program, string computerName, long? startUnixNs,
        CallKind kind, int processId, int threadId, int depth, long startNs, long durationNs, long selfNs, ProbeAccount probes = default,
        long rawOnCpuNs = TracedCall.UnknownOnCpu)
    {
        var traceStartUnixNs = startUnixNs is { } start ? start - startNs : 0;
        if (!_traces.TryGetValue((computerName, traceStartUnixNs), out var trace))
        {
            if (_traces.Count >= MaxTraces)
                _traces.Clear();
            _traces.Add((computerName, traceStartUnixNs), trace = new Trace(computerName, traceStartUnixNs));
        }
        var functionId = trace.IdOf(function, module, program);
        var callerId = caller is null ? -1 : trace.CallerIdOf(caller, program);
        return new CallEvent(new TracedCall(trace.Context, kind, functionId, callerId, processId, threadId, depth,
            (ulong)startNs, durationNs, selfNs, probes: probes, rawOnCpuNs: rawOnCpuNs));
    }

    private sealed class Trace(string computerName, long startUnixNs)
    {
        private readonly Dictionary<(string Name, string Module, string? Program), int> _ids = [];
        private readonly Dictionary<string, int> _firstIdByName = new(StringComparer.Ordinal);

        // Its clock reads 0 at the trace's start, so a call's monotonic start is its StartNs.
        public TraceContext Context { get; } = new(new GrowingFunctionTable([]), 0, Timestamp.FromUnixNanoseconds(startUnixNs)) { HostName = computerName };

        public int IdOf(string name, string module, string? program)
        {
            if (_ids.TryGetValue((name, module, program), out var id))
                return id;
            id = ((GrowingFunctionTable)Context.Functions).Append([new FunctionInfo(name, name, module, FunctionKind.Function, 0, 0, "", program)]);
            _ids.Add((name, module, program), id);
            _firstIdByName.TryAdd(name, id);
            return id;
        }

        /// <summary>The first function of that name, else one of its own with no module.</summary>
        public int CallerIdOf(string name, string? program) =>
            _firstIdByName.TryGetValue(name, out var id) ? id : IdOf(name, "", program);
    }
}
