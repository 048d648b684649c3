using System.Runtime.InteropServices;

namespace Utrace.Native.Bpf;

// Mirrors of bpf/utrace.h. Field order and widths must match it exactly (checked by AbiLayoutTests).

/// <summary>struct utrace_event: one completed call.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EventRecord
{
    public ulong StartNs;
    public ulong DurationNs;
    public ulong SelfNs;
    public uint Pid;
    public uint Tid;
    public uint FunctionId;
    public uint CallerId;
    public uint Depth;
    public uint Reserved;

    /// <summary>UTRACE_NO_CALLER.</summary>
    public const uint NoCaller = 0xffffffff;
}

/// <summary>struct utrace_config: .rodata settings, fixed at load.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TraceConfig
{
    public ulong MinDurationNs;
    public ulong WakeupBytes;
    public uint TargetTgid;
    public uint MaxDepth;
    public uint FilterThreads;
    public uint Reserved;
}

/// <summary>struct utrace_stats: per-CPU counters.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StatsRecord
{
    public ulong Sent;
    public ulong Lost;
    public ulong TooDeep;
    public ulong Filtered;
    public ulong NoStack;
    public ulong Unmatched;
}

internal static class Abi
{
    /// <summary>UTRACE_MAX_DEPTH.</summary>
    public const int MaxDepth = 256;
}
