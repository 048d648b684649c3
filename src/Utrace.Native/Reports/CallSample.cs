using Utrace.Native.Recording;

namespace Utrace.Native.Reports;

/// <summary>
/// What a report needs of one completed call, whatever it came from: a live CallEvent, a
/// deserialized one (remoting, Import-Clixml), or a row of a trace file.
/// </summary>
internal readonly record struct CallSample(
    string Function, string Module, int ProcessId, int ThreadId, int Depth, long StartNs, long DurationNs, long SelfNs,
    string ComputerName = "", long TraceStartUnixNs = 0)
{
    public static CallSample From(CallEvent call) =>
        new(call.Function, call.Module, call.ProcessId, call.ThreadId, call.Depth, call.StartNs, call.DurationNs, call.SelfNs, call.ComputerName,
            call.Start.UnixNanoseconds - call.StartNs);

    /// <summary>Row <paramref name="row"/> of a trace file's batch, whose function ids index <paramref name="context"/>'s table.</summary>
    public static CallSample From(TraceContext context, EventBatch batch, int row)
    {
        var function = context.Functions[batch.FunctionIds[row]];
        return new(function.Name, function.Module, batch.ProcessIds[row], batch.ThreadIds[row], batch.Depths[row],
            (long)(batch.StartsMonotonicNs[row] - context.StartMonotonicNs), batch.DurationsNs[row], batch.SelfTimesNs[row], context.HostName,
            context.ToWallClock(context.StartMonotonicNs).UnixNanoseconds);
    }

    /// <summary>
    /// StartNs counts from the start of the call's own trace; this counts from the start of
    /// <paramref name="firstTraceStartUnixNs"/>'s, so that calls of traces read together keep
    /// their order in time (the clocks of two hosts agree only as much as their wall clocks do).
    /// </summary>
    public long StartNsSince(long firstTraceStartUnixNs) => StartNs + (TraceStartUnixNs - firstTraceStartUnixNs);

    /// <summary>Identifies the thread across processes and hosts (two machines can run the same process ids).</summary>
    public ThreadKey ThreadKey => new(ComputerName, ProcessId, ThreadId);
}

/// <summary>One thread of one process of one host.</summary>
internal readonly record struct ThreadKey(string ComputerName, int ProcessId, int ThreadId);
