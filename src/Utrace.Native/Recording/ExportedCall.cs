using System.Collections.Concurrent;
using Utrace.Native.Elf;

namespace Utrace.Native.Recording;

/// <summary>One CallEvent as a text export (Export-Csv, Export-Clixml) keeps it: names instead of table ids.</summary>
public sealed record ExportedCall(string Function, string Module, string? Caller, int ProcessId, int ThreadId, int Depth,
    long StartUnixNs, long StartNs, long DurationNs, long SelfNs, bool HasDuration, string ComputerName = "")
{
    /// <summary>
    /// Typed CallEvents again, equal in every property to those exported, in the same order. The
    /// calls of one host share one function table (by name and module) and one clock anchor: the
    /// first call's Start less its StartNs.
    /// </summary>
    public static IReadOnlyList<CallEvent> ToCallEvents(IReadOnlyList<ExportedCall> calls)
    {
        var events = new CallEvent[calls.Count];
        foreach (var host in Enumerable.Range(0, calls.Count).GroupBy(i => calls[i].ComputerName, StringComparer.Ordinal))
        {
            var indexes = host.ToArray();
            var hostEvents = OfOneHost(indexes.Select(i => calls[i]).ToArray());
            for (var i = 0; i < indexes.Length; i++)
                events[indexes[i]] = hostEvents[i];
        }
        return events;
    }

    /// <summary>
    /// This call as a CallEvent again, equal in every property (a deserialized CallEvent, rehydrated
    /// as it arrives). Calls alike in host, clock, function and caller share one context.
    /// </summary>
    public CallEvent ToCallEvent()
    {
        var key = (ComputerName, StartUnixNs - StartNs, Function, Module, Caller);
        if (SingleCalls.TryGetValue(key, out var alike))
            return new CallEvent(alike.Context, alike.FunctionId, alike.CallerId, ProcessId, ThreadId, Depth, (ulong)StartNs, DurationNs, SelfNs, HasDuration);
        if (SingleCalls.Count >= MaxSingleCalls)
            SingleCalls.Clear();
        return SingleCalls[key] = ToCallEvents([this])[0];
    }

    // Enough for the functions and callers of a few traces; a clear costs only sharing.
    private const int MaxSingleCalls = 4096;
    private static readonly ConcurrentDictionary<(string, long, string, string, string?), CallEvent> SingleCalls = new();

    private static IReadOnlyList<CallEvent> OfOneHost(IReadOnlyList<ExportedCall> calls)
    {
        var functions = new List<FunctionInfo>();
        var ids = new Dictionary<(string Name, string Module), int>();
        var firstIdByName = new Dictionary<string, int>(StringComparer.Ordinal);
        int IdOf(string name, string module)
        {
            if (!ids.TryGetValue((name, module), out var id))
            {
                ids[(name, module)] = id = functions.Count;
                functions.Add(new FunctionInfo(name, name, module, FunctionKind.Function, 0, 0, ""));
                firstIdByName.TryAdd(name, id);
            }
            return id;
        }
        var functionIds = calls.Select(c => IdOf(c.Function, c.Module)).ToArray();
        // An export names a caller but not its module: the first function of that name, else one of its own.
        var callerIds = calls.Select(c => c.Caller is null ? -1 : firstIdByName.TryGetValue(c.Caller, out var id) ? id : IdOf(c.Caller, "")).ToArray();

        var context = new TraceContext(functions, 0, Timestamp.FromUnixNanoseconds(calls[0].StartUnixNs - calls[0].StartNs))
        {
            HostName = calls[0].ComputerName,
        };
        return calls.Select((c, i) => new CallEvent(context, functionIds[i], callerIds[i], c.ProcessId, c.ThreadId, c.Depth,
            (ulong)c.StartNs, c.DurationNs, c.SelfNs, c.HasDuration)).ToArray();
    }
}
