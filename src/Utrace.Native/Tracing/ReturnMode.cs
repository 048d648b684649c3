using Utrace.Native.Bpf;

namespace Utrace;

/// <summary>
/// How the end of a traced call is seen. The resolved modes are also the BPF program's
/// UTRACE_RETURN_* (bpf/utrace.h), so the configuration takes them as they are.
/// </summary>
public enum ReturnMode : uint
{
    /// <summary>
    /// Uretprobe, unless the program switches stacks (ucontext or boost.context coroutines):
    /// then EntryOnly, with a warning.
    /// </summary>
    Auto = 0,

    /// <summary>
    /// A return probe (uretprobe): the kernel swaps the return address on the stack for its
    /// trampoline. The fastest way to time calls. Functions that save their return address
    /// (setjmp, getcontext, vfork, dlsym...) get none and are reported at entry.
    /// </summary>
    [AbiConstant("UTRACE_RETURN_URETPROBE")]
    Uretprobe = 1,

    /// <summary>
    /// Probes on each function's own ret and tail-call jmp instructions: nothing on the stack
    /// changes, durations still work. The kernel single-steps each such probe, so a call costs
    /// several times more. Library calls (PLT stubs) are reported at entry.
    /// </summary>
    [AbiConstant("UTRACE_RETURN_RET_INSTRUCTION")]
    RetInstruction = 2,

    /// <summary>Entry probes only: every call is reported when it starts, without a duration. The cheapest mode.</summary>
    [AbiConstant("UTRACE_RETURN_ENTRY_ONLY")]
    EntryOnly = 3,
}
