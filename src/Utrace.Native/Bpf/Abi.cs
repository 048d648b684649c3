using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Utrace.Native.Tracing;

namespace Utrace.Native.Bpf;

// Mirrors of bpf/utrace.h. Field order and widths must match it exactly (checked by AbiLayoutTests).

/// <summary>The type every ring-buffer record starts with (UTRACE_RECORD_*).</summary>
internal enum RecordType : uint
{
    /// <summary>A call that returned: an <see cref="EventRecord"/> with its duration.</summary>
    [AbiConstant("UTRACE_RECORD_CALL")]
    Call = 1,
    /// <summary>A call entered, reported without a duration (no return is probed).</summary>
    [AbiConstant("UTRACE_RECORD_ENTRY")]
    Entry = 2,
    /// <summary>A stack patch, on the patches ring.</summary>
    [AbiConstant("UTRACE_RECORD_PATCH")]
    Patch = 3,
    /// <summary>A captured call's argument registers: an <see cref="ArgumentsRecord"/>, sent at entry.</summary>
    [AbiConstant("UTRACE_RECORD_ARGUMENTS")]
    Arguments = 4,
    /// <summary>A C-string argument of the arguments record before it: a <see cref="StringRecord"/>.</summary>
    [AbiConstant("UTRACE_RECORD_STRING")]
    String = 5,
    /// <summary>A captured call's return value: a <see cref="ReturnValueRecord"/>, just before the call's record.</summary>
    [AbiConstant("UTRACE_RECORD_RETURN_VALUE")]
    ReturnValue = 6,
    /// <summary>A change to a traced process: a <see cref="ProcessRecord"/>.</summary>
    [AbiConstant("UTRACE_RECORD_PROCESS")]
    Process = 7,
}

/// <summary>struct utrace_arguments: the argument registers of a call whose function has a capture spec.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_arguments")]
internal struct ArgumentsRecord
{
    public RecordType Type;
    public uint Tid;
    public uint Depth;
    public uint FunctionId;
    public ulong StartNs;
    public ArgumentValues Values;
}

/// <summary>utrace_arguments' values[UTRACE_MAX_ARGUMENTS]: rdi, rsi, rdx, rcx, r8, r9.</summary>
[InlineArray(Abi.MaxArguments)]
internal struct ArgumentValues
{
    private ulong _first;
}

/// <summary>struct utrace_string: one C-string argument, read in the kernel.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_string")]
internal struct StringRecord
{
    public RecordType Type;
    public uint Tid;
    public uint Depth;
    public uint Argument;
    /// <summary>Bytes before the NUL; negative: the errno of the read that failed.</summary>
    public int Length;
    public uint Truncated;
    public StringBytes Data;
}

/// <summary>utrace_string's data[UTRACE_STRING_BYTES].</summary>
[InlineArray(Abi.StringBytes)]
internal struct StringBytes
{
    private byte _first;
}

/// <summary>struct utrace_return_value: rax at the return of a call whose function has a return spec.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_return_value")]
internal struct ReturnValueRecord
{
    public RecordType Type;
    public uint Tid;
    public uint Depth;
    public uint FunctionId;
    public ulong StartNs;
    public ulong Value;
}

/// <summary>UTRACE_PROCESS_*: what happened to a traced process.</summary>
internal enum ProcessEventKind : uint
{
    [AbiConstant("UTRACE_PROCESS_FORK")]
    Fork = 1,
    [AbiConstant("UTRACE_PROCESS_EXEC")]
    Exec = 2,
    [AbiConstant("UTRACE_PROCESS_EXIT")]
    Exit = 3,
    [AbiConstant("UTRACE_PROCESS_LIBRARIES")]
    Libraries = 4,
}

/// <summary>struct utrace_process_event, from bpf/utrace-follow.bpf.c.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_process_event")]
internal struct ProcessRecord
{
    public RecordType Type;
    public ProcessEventKind Kind;
    public uint Pid;
    public uint Parent;
}

/// <summary>struct utrace_event: one call.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_event")]
internal struct EventRecord
{
    public RecordType Type;
    public uint Depth;
    public ulong StartNs;
    public ulong DurationNs;
    public ulong SelfNs;
    public uint Pid;
    public uint Tid;
    public uint FunctionId;
    public uint CallerId;
    public uint CallsInside;
    public uint Reserved;
    public ulong ProbeCostNs;
    public ulong SelfProbeCostNs;

    /// <summary>UTRACE_NO_CALLER.</summary>
    [AbiConstant("UTRACE_NO_CALLER")]
    public const uint NoCaller = 0xffffffff;
}

/// <summary>struct utrace_stack_switch: a process's first stack switch (map stack_switches).</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_stack_switch")]
internal struct StackSwitchRecord
{
    public ulong TimeNs;
    public uint Tid;
    public uint Routine;
}

/// <summary>UTRACE_HIT_*: what a hit of an entry probe costs, by how the kernel handles the probed instruction.</summary>
internal enum ProbeHitKind : uint
{
    [AbiConstant("UTRACE_HIT_EMULATED")]
    Emulated = 0,
    [AbiConstant("UTRACE_HIT_SINGLE_STEPPED")]
    SingleStepped = 1,
    [AbiConstant("UTRACE_HIT_OPTIMIZED_NOP")]
    OptimizedNop = 2,
}

/// <summary>struct utrace_config: .rodata settings, fixed at load.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_config")]
internal unsafe struct TraceConfig
{
    public ulong MinDurationNs;
    public ulong WakeupBytes;
    public uint TargetTgid;
    public uint MaxDepth;
    public uint FilterThreads;
    public uint ProtectUnwind;
    /// <summary>UTRACE_RETURN_*: the resolved mode, never Auto (ReturnMode mirrors the constants).</summary>
    public ReturnMode ReturnMode;
    public uint SummaryOnly;
    public uint Scoped;
    public uint Reserved;
    // Fixed buffers, not inline arrays: the struct keeps its value equality.
    /// <summary>By <see cref="ProbeHitKind"/>: the calibration's <see cref="ProbeCalibration.PerCallNs"/> (all 0 uncalibrated).</summary>
    public fixed ulong ProbeCallNs[Abi.HitKinds];
    /// <summary>By <see cref="ProbeHitKind"/>: the calibration's <see cref="ProbeCalibration.InsideNs"/>.</summary>
    public fixed ulong ProbeInsideNs[Abi.HitKinds];
}

/// <summary>struct utrace_function_summary: one function's calls on one CPU, in summary mode.</summary>
[StructLayout(LayoutKind.Sequential), AbiStruct("utrace_function_summary")]
internal struct FunctionSummaryRecord
{
    public ulong Calls;
    public ulong TotalNs;
    public ulong SumNs;
    public ulong SelfNs;
    public ulong MinNs;
    public ulong MaxNs;
    public ulong RawSumNs;
    public HistogramBuckets Histogram;
}

/// <summary>utrace_function_summary's histogram[UTRACE_HISTOGRAM_BUCKETS].</summary>
[InlineArray(Abi.HistogramBuckets)]
internal struct HistogramBuckets
{
    private ulong _first;
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
    public RecordType Type;
    public uint Pid;
    public uint Tid;
    public uint Count;
}

/// <summary>struct utrace_patch, which utrace-guard reads; the engine needs only its layout checked.</summary>
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

    /// <summary>UTRACE_STACK_SWITCH: the cookie of the hooks on stack-switch routines (the routine's index in the high 32 bits).</summary>
    [AbiConstant("UTRACE_STACK_SWITCH")]
    public const uint StackSwitch = 0xfffffff2;

    /// <summary>UTRACE_HISTOGRAM_BUCKETS: bucket b of a latency histogram counts calls of [2^b, 2^(b+1)) ns.</summary>
    [AbiConstant("UTRACE_HISTOGRAM_BUCKETS")]
    public const int HistogramBuckets = 40;

    /// <summary>UTRACE_COOKIE_ENTRY_ONLY: the function has no return probe; report it at entry.</summary>
    [AbiConstant("UTRACE_COOKIE_ENTRY_ONLY")]
    public const ulong CookieEntryOnly = 1UL << 32;

    /// <summary>UTRACE_COOKIE_ARGUMENTS: the entry sends the argument registers.</summary>
    [AbiConstant("UTRACE_COOKIE_ARGUMENTS")]
    public const ulong CookieArguments = 1UL << 33;

    /// <summary>UTRACE_COOKIE_RETURN_VALUE: the return (or ret instruction) sends rax.</summary>
    [AbiConstant("UTRACE_COOKIE_RETURN_VALUE")]
    public const ulong CookieReturnValue = 1UL << 34;

    /// <summary>UTRACE_COOKIE_SCOPE: the function opens the -Within scope.</summary>
    [AbiConstant("UTRACE_COOKIE_SCOPE")]
    public const ulong CookieScope = 1UL << 35;

    /// <summary>UTRACE_COOKIE_HIT_SHIFT: where the entry probe's <see cref="ProbeHitKind"/> sits in a cookie.</summary>
    [AbiConstant("UTRACE_COOKIE_HIT_SHIFT")]
    public const int CookieHitShift = 36;

    /// <summary>UTRACE_HIT_KINDS: the kinds of <see cref="ProbeHitKind"/>.</summary>
    [AbiConstant("UTRACE_HIT_KINDS")]
    public const int HitKinds = 3;

    /// <summary>UTRACE_COOKIE_STRINGS_SHIFT: where the mask of C-string arguments starts in a cookie.</summary>
    [AbiConstant("UTRACE_COOKIE_STRINGS_SHIFT")]
    public const int CookieStringsShift = 40;

    /// <summary>UTRACE_MAX_ARGUMENTS: the argument registers of the System V AMD64 ABI.</summary>
    [AbiConstant("UTRACE_MAX_ARGUMENTS")]
    public const int MaxArguments = 6;

    /// <summary>UTRACE_STRING_BYTES: a C string is read up to this many bytes, NUL included.</summary>
    [AbiConstant("UTRACE_STRING_BYTES")]
    public const int StringBytes = 256;
}
