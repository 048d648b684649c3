using System.Globalization;
using Utrace.Native.Recording;

namespace Utrace.Native.Reports;

/// <summary>
/// What a report needs of one completed call, whatever it came from: a live CallEvent, a
/// deserialized one (remoting, Import-Clixml), or a row of a trace file.
/// </summary>
internal readonly record struct CallSample(
    string Function, string Module, int ProcessId, int ThreadId, int Depth, long StartNs, long DurationNs, long SelfNs,
    string ComputerName = "", long TraceStartUnixNs = 0, bool HasDuration = true, CallArguments? Arguments = null, object? ReturnValue = null)
{
    public static CallSample From(CallEvent call) =>
        new(call.Function, call.Module, call.ProcessId, call.ThreadId, call.Depth, call.StartNs, call.DurationNs, call.SelfNs, call.ComputerName,
            call.Start.UnixNanoseconds - call.StartNs, call.HasDuration, call.Arguments, call.ReturnValue);

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

    /// <summary>Nanoseconds since 1970 (UTC) at the call's entry: one time line for calls of several traces.</summary>
    public long StartUnixNs => TraceStartUnixNs + StartNs;

    /// <summary>The captured values, named as the viewers show them: arg0, arg1, ... and return; NULL and skipped arguments left out.</summary>
    public IEnumerable<(string Name, object Value)> CapturedValues()
    {
        for (var i = 0; i < (Arguments?.Count ?? 0); i++)
        {
            if (Arguments![i] is { } value)
                yield return (string.Create(CultureInfo.InvariantCulture, $"arg{i}"), value);
        }
        if (ReturnValue is { } returned)
            yield return ("return", returned);
    }

    /// <summary>Identifies the thread across processes and hosts (two machines can run the same process ids).</summary>
    public ThreadKey ThreadKey => new(ComputerName, ProcessId, ThreadId);
}

/// <summary>One thread of one process of one host.</summary>
internal readonly record struct ThreadKey(string ComputerName, int ProcessId, int ThreadId);
