namespace Utrace.Native.Reports;

/// <summary>
/// What a report needs of one completed call, whatever it came from: a live CallEvent, a
/// deserialized one (remoting, Import-Clixml), or a row of a trace file.
/// </summary>
internal readonly record struct CallSample(
    string Function, string Module, int ProcessId, int ThreadId, int Depth, long StartNs, long DurationNs, long SelfNs)
{
    public static CallSample From(CallEvent call) =>
        new(call.Function, call.Module, call.ProcessId, call.ThreadId, call.Depth, call.StartNs, call.DurationNs, call.SelfNs);

    /// <summary>Identifies the thread across processes.</summary>
    public long ThreadKey => ((long)ProcessId << 32) | (uint)ThreadId;
}
