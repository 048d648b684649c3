using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Utrace.Native.Bpf;

// Mirrors of bpf/utrace.h. Field order and widths must match it exactly (checked by AbiLayoutTests).

/// <summary>struct utrace_event: one completed call.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_event")]
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
    [AbiConstant("UTRACE_NO_CALLER")]
    public const uint NoCaller = 0xffffffff;
}

/// <summary>struct utrace_config: .rodata settings, fixed at load.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_config")]
internal struct TraceConfig
{
    public ulong MinDurationNs;
    public ulong WakeupBytes;
    public uint TargetTgid;
    public uint MaxDepth;
    public uint FilterThreads;
    public uint ProtectUnwind;
}

/// <summary>struct utrace_stats: per-CPU counters.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_stats")]
internal struct StatsRecord
{
    public ulong Sent;
    public ulong Lost;
    public ulong TooDeep;
    public ulong Filtered;
    public ulong NoStack;
    public ulong Unmatched;
    public ulong Unwound;
}

/// <summary>struct utrace_patch_write: one return-address slot to write.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_patch_write")]
internal struct PatchWrite
{
    public ulong Address;
    public ulong Value;
}

/// <summary>struct utrace_patch_header; <see cref="Count"/> PatchWrites follow it.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_patch_header")]
internal struct PatchHeader
{
    public uint Pid;
    public uint Tid;
    public uint Count;
    public uint Reserved;
}

/// <summary>struct utrace_patch: the largest patch record; the reader takes a shorter one as a PatchHeader and its PatchWrites.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_patch")]
internal struct PatchRecord
{
    public PatchHeader Header;
    public PatchWrites Writes;
}

/// <summary>utrace_patch's writes[UTRACE_MAX_DEPTH].</summary>
[InlineArray(Abi.MaxDepth)]
internal struct PatchWrites
{
    private PatchWrite _first;
}

internal static class Abi
{
    /// <summary>UTRACE_MAX_DEPTH.</summary>
    [AbiConstant("UTRACE_MAX_DEPTH")]
    public const int MaxDepth = 64;

    /// <summary>UTRACE_UNWIND_BEGIN: the cookie of the hooks where unwinding starts.</summary>
    [AbiConstant("UTRACE_UNWIND_BEGIN")]
    public const uint UnwindBegin = 0xfffffff0;

    /// <summary>UTRACE_UNWIND_CATCH: the cookie of the hook where a handler catches.</summary>
    [AbiConstant("UTRACE_UNWIND_CATCH")]
    public const uint UnwindCatch = 0xfffffff1;
}
