using Utrace.Native.Bpf;
using Utrace.Native.Tracing;

namespace Utrace;

/// <summary>One completed function call, emitted when the call returns.</summary>
public sealed class CallEvent
{
    private readonly EventContext _context;
    private readonly ulong _startMonotonicNs;
    private readonly int _functionId;
    private readonly int _callerId;

    internal CallEvent(EventContext context, in EventRecord record)
    {
        _context = context;
        _startMonotonicNs = record.StartNs;
        _functionId = (int)record.FunctionId;
        _callerId = record.CallerId == EventRecord.NoCaller ? -1 : (int)record.CallerId;
        ProcessId = (int)record.Pid;
        ThreadId = (int)record.Tid;
        Depth = (int)record.Depth;
        DurationNs = (long)record.DurationNs;
        SelfNs = (long)record.SelfNs;
    }

    /// <summary>The function's name, demangled.</summary>
    public string Function => _context.Functions[_functionId].Name;

    /// <summary>File name of the ELF the function lives in; for a library call, the library that defines it when known.</summary>
    public string Module => _context.Functions[_functionId].Module;

    public int ProcessId { get; }
    public int ThreadId { get; }

    /// <summary>0 for the outermost traced call of the thread.</summary>
    public int Depth { get; }

    /// <summary>The traced parent's function name, or null for an outermost call.</summary>
    public string? Caller => _callerId < 0 ? null : _context.Functions[_callerId].Name;

    /// <summary>Wall-clock time of the call's entry (local time).</summary>
    public DateTime Start => _context.ToWallClock(_startMonotonicNs);

    public Duration Duration => Duration.FromNanoseconds(DurationNs);

    /// <summary>Duration minus the time spent in traced children.</summary>
    public Duration SelfDuration => Duration.FromNanoseconds(SelfNs);

    /// <summary>Nanoseconds from the start of the trace to the call's entry.</summary>
    public long StartNs => (long)(_startMonotonicNs - _context.TraceStartMonotonicNs);

    public long DurationNs { get; }
    public long SelfNs { get; }

    public override string ToString() => $"{Function} {Duration}";
}
