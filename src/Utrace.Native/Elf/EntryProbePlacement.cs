using Iced.Intel;

namespace Utrace.Native.Elf;

/// <summary>Where a function's entry probe goes: <paramref name="Offset"/> bytes into the function.</summary>
internal readonly record struct EntryProbePlacement(ulong Offset, EntryProbeKind Kind)
{
    private const ulong PageSize = 4096;
    private const int OptimizedNopLength = 5;

    // The nops the kernel emulates besides 0x90 (its x86_nops table, lengths 3 to 8).
    private static readonly byte[][] EmulatedNops =
    [
        [0x0f, 0x1f, 0x00],
        [0x0f, 0x1f, 0x40, 0x00],
        [0x0f, 0x1f, 0x44, 0x00, 0x00],
        [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
        [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
        [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ];

    // What a moved probe must find as at entry: the stack pointer (the return address at [rsp]) and the
    // registers that pass arguments, which -Capture reads.
    private static readonly Register[] EntryRegisters =
        [Register.RSP, Register.RDI, Register.RSI, Register.RDX, Register.RCX, Register.R8, Register.R9];

    /// <summary>
    /// The placement for the function whose code (all of it: jumps inside it are checked) is <paramref name="code"/>
    /// and which starts at <paramref name="fileOffset"/> in its file (congruent to its address modulo the page size).
    /// Follows arch/x86/kernel/uprobes.c of Linux 6.18: what it emulates, what it refuses, which nops it optimizes.
    /// </summary>
    public static EntryProbePlacement Choose(byte[] code, ulong fileOffset)
    {
        if (InstructionScanner.WhyUnprobeable(code) is not null)
            return new(0, EntryProbeKind.Refused);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), 0);
        decoder.Decode(out var first);
        if (first.IsInvalid)
            return new(0, EntryProbeKind.SingleStepped);
        if (AfterGoStackCheck(code) is { } body)
            return new(body, IsEmulated(DecodeAt(code, body), code) ? EntryProbeKind.Moved : EntryProbeKind.SingleStepped);
        if (IsOptimizedNop(first, code, fileOffset))
            return new(0, EntryProbeKind.OptimizedNop);
        if (IsEmulated(first, code))
            return new(0, EntryProbeKind.Emulated);
        return FindLaterEmulated(code, fileOffset) ?? new(0, EntryProbeKind.SingleStepped);
    }

    /// <summary>
    /// The first emulated instruction, if only instructions that leave the arguments, the stack pointer and the
    /// return address as they were come before it, and no jump in the function lands on it or before it.
    /// </summary>
    private static EntryProbePlacement? FindLaterEmulated(byte[] code, ulong fileOffset)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), 0);
        var info = new InstructionInfoFactory();
        ulong? target = null;
        var kind = EntryProbeKind.Moved;
        while (decoder.IP < (ulong)code.Length)
        {
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid || instruction.NextIP > (ulong)code.Length)
                return null;
            if (target is null)
            {
                if (instruction.IP > 0 && IsEmulated(instruction, code))
                {
                    target = instruction.IP;
                    if (IsOptimizedNop(instruction, code, fileOffset))
                        kind = EntryProbeKind.OptimizedNop;
                }
                else if (!LeavesEntryStateAlone(instruction, info))
                {
                    return null;
                }
            }
            if (!JumpsOutsideOf(instruction, target ?? (ulong)code.Length))
                return null;
        }
        return target is { } offset ? new(offset, kind) : null;
    }

    /// <summary>
    /// Where a Go function's body starts, after its stack check (<c>[lea r12,[rsp-N];] cmp rsp|r12,[r14+16]; jbe grow</c>,
    /// r14 holding the goroutine): a call whose stack must grow runs <c>grow</c>, which calls the runtime and jumps
    /// back to the function's first instruction, so a probe there would count the call again. Null for any other code.
    /// </summary>
    private static ulong? AfterGoStackCheck(byte[] code)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), 0);
        decoder.Decode(out var check);
        var limitRegister = Register.RSP;
        if (check.Code == Code.Lea_r64_m && check.Op0Register == Register.R12 && check.MemoryBase == Register.RSP)
        {
            limitRegister = Register.R12;
            decoder.Decode(out check);
        }
        if (check.Code != Code.Cmp_r64_rm64 || check.Op0Register != limitRegister || check.MemoryBase != Register.R14
            || check.MemoryIndex != Register.None || check.MemoryDisplacement64 != GoStackGuardOffset)
            return null;
        decoder.Decode(out var branch);
        if (!branch.IsJccShortOrNear || branch.ConditionCode != ConditionCode.be || branch.NearBranchTarget >= (ulong)code.Length)
            return null;
        var body = branch.NextIP;
        if (!GrowsAndStartsOver(code, branch.NearBranchTarget))
            return null;
        // The probe moves past the check only if no jump of the function lands inside it.
        var all = Decoder.Create(64, new ByteArrayCodeReader(code), 0);
        while (all.IP < (ulong)code.Length)
        {
            all.Decode(out var instruction);
            if (instruction.IsInvalid || !JumpsOutsideOf(instruction, body))
                return instruction.IsInvalid && instruction.IP > body ? body : null; // padding (int3) after the code is fine
        }
        return body;
    }

    // The stack guard's offset in Go's g struct (g.stackguard0), which the check compares with.
    private const long GoStackGuardOffset = 0x10;

    /// <summary>True when the block at <paramref name="start"/> calls (the runtime's morestack) and then jumps back to offset 0.</summary>
    private static bool GrowsAndStartsOver(byte[] code, ulong start)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code, (int)start, code.Length - (int)start), start);
        var called = false;
        for (var i = 0; i < 32 && decoder.IP < (ulong)code.Length; i++)
        {
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid)
                return false;
            if (instruction.FlowControl == FlowControl.Call)
                called = true;
            else if (instruction.FlowControl != FlowControl.Next)
                return called && instruction.IsJmpShortOrNear && instruction.NearBranchTarget == 0;
        }
        return false;
    }

    private static Instruction DecodeAt(byte[] code, ulong offset)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code, (int)offset, code.Length - (int)offset), offset);
        decoder.Decode(out var instruction);
        return instruction;
    }

    /// <summary>
    /// False for a jump that may land in (0, <paramref name="limit"/>]: the probe would then count a call that was not
    /// made. Register- and memory-indirect jumps (switch tables) could land anywhere; RIP-relative ones are tail calls.
    /// </summary>
    private static bool JumpsOutsideOf(in Instruction instruction, ulong limit) => instruction.FlowControl switch
    {
        FlowControl.UnconditionalBranch or FlowControl.ConditionalBranch =>
            instruction.NearBranchTarget == 0 || instruction.NearBranchTarget > limit,
        FlowControl.IndirectBranch => instruction.IsIPRelativeMemoryOperand,
        _ => true,
    };

    /// <summary>
    /// True for an instruction after which the probe sees the call as at entry: it does not branch, does not touch the
    /// stack pointer or the argument registers, and does not reach the return address or the caller's frame.
    /// </summary>
    private static bool LeavesEntryStateAlone(in Instruction instruction, InstructionInfoFactory factory)
    {
        if (instruction.FlowControl != FlowControl.Next || instruction.StackPointerIncrement != 0)
            return false;
        var info = factory.GetInfo(instruction);
        foreach (var used in info.GetUsedRegisters())
        {
            if (used.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite
                && Array.IndexOf(EntryRegisters, used.Register.GetFullRegister()) >= 0)
                return false;
        }
        foreach (var memory in info.GetUsedMemory())
        {
            if (memory.Base.GetFullRegister() == Register.RSP && (long)memory.Displacement >= 0)
                return false;
        }
        return true;
    }

    /// <summary>True for what the kernel emulates rather than single-steps: push of a register, nops, relative jmp, jcc and call.</summary>
    private static bool IsEmulated(in Instruction instruction, byte[] code)
    {
        var bytes = code.AsSpan((int)instruction.IP, instruction.Length);
        if (InstructionScanner.WhyUnprobeable(bytes) is not null)
            return false;
        if (instruction.Code == Code.Push_r64)
            return bytes.Length == 1 || (bytes.Length == 2 && bytes[0] == 0x41); // only the REX.B prefix
        if (bytes[^1] == 0x90 && bytes[..^1].IndexOfAnyExcept((byte)0x66) < 0)
            return true; // nop, with operand-size prefixes
        foreach (var nop in EmulatedNops)
        {
            if (bytes.SequenceEqual(nop))
                return true;
        }
        var relativeBranch = instruction.IsJccShortOrNear || instruction.IsJmpShortOrNear || instruction.IsCallNear;
        // The kernel refuses to emulate a branch with an operand-size prefix.
        return relativeBranch && !HasOperandSizePrefix(bytes);
    }

    private static bool HasOperandSizePrefix(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b == 0x66)
                return true;
            var isPrefix = b is 0x26 or 0x2e or 0x36 or 0x3e or 0x64 or 0x65 or 0x67 or 0xf0 or 0xf2 or 0xf3 || (b & 0xf0) == 0x40;
            if (!isPrefix)
                return false;
        }
        return false;
    }

    /// <summary>
    /// True for a 5-byte nop (nopl with reg 0, or 0x90 behind prefixes) that does not cross a page: the kernel turns
    /// the int3 over it into a call.
    /// </summary>
    private static bool IsOptimizedNop(in Instruction instruction, byte[] code, ulong fileOffset)
    {
        if (instruction.Length != OptimizedNopLength || (fileOffset + instruction.IP) % PageSize > PageSize - OptimizedNopLength)
            return false;
        if (InstructionScanner.WhyUnprobeable(code.AsSpan((int)instruction.IP)) is not null)
            return false;
        return instruction.Code is Code.Nop_rm16 or Code.Nop_rm32 or Code.Nop_rm64 or Code.Nopw or Code.Nopd or Code.Nopq;
    }
}
