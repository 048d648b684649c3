namespace Utrace;

/// <summary>What one hit of a function's entry probe costs, by how the kernel handles the probed instruction.</summary>
public enum EntryProbeKind
{
    /// <summary>A 5-byte nop, which Linux 6.18+ turns into a call into a trampoline after its first hit: the cheapest.</summary>
    OptimizedNop,

    /// <summary>The first instruction is one the kernel emulates (push of a register, nop, jmp, jcc, call).</summary>
    Emulated,

    /// <summary>
    /// The first instruction would be single-stepped; the probe sits on a later one the kernel emulates, reached
    /// before any branch, change of the stack pointer or write to an argument register, so it sees the same
    /// arguments and return address.
    /// </summary>
    Moved,

    /// <summary>
    /// The kernel single-steps the probed instruction (the costliest hit): the first one, as no later one could take the
    /// probe; or, in a Go function, the first one past its stack check.
    /// </summary>
    SingleStepped,

    /// <summary>The kernel refuses a probe on the first instruction: the function cannot be traced.</summary>
    Refused,
}
