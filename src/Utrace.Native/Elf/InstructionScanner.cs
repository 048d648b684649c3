using Iced.Intel;

namespace Utrace.Native.Elf;

/// <summary>
/// Reads a function's machine code (x86-64, with Iced): whether the kernel can put a uprobe
/// on its first instruction, and where the function ends (its ret and tail-call jmp
/// instructions), for probes that never touch the stack.
/// </summary>
internal static class InstructionScanner
{
    /// <summary>
    /// Why the kernel refuses a uprobe on the instruction at the start of <paramref name="code"/>,
    /// or null. Like the kernel (arch/x86/kernel/uprobes.c), it refuses the lock prefix and the
    /// es, cs, ss and ds segment prefixes (ds is also `notrack`).
    /// </summary>
    public static string? WhyUnprobeable(ReadOnlySpan<byte> code)
    {
        foreach (var b in code)
        {
            switch (b)
            {
                case 0xf0:
                    return "its first instruction has a lock prefix, which the kernel cannot probe";
                case 0x26 or 0x2e or 0x36 or 0x3e:
                    return "its first instruction has a segment prefix, which the kernel cannot probe";
                case 0x64 or 0x65 or 0x66 or 0x67 or 0xf2 or 0xf3:
                    continue; // other legacy prefixes: look further
                default:
                    return null;
            }
        }
        return null;
    }

    /// <summary>
    /// Offsets, from the function's start, of every instruction where a call of it ends with the
    /// stack pointer back at its entry value: `ret`, and `jmp`s that leave the function (direct
    /// ones to another address, and indirect ones through a RIP-relative slot, as PLT-style tail
    /// calls are). Null when the code does not decode cleanly to its end, so that no probe is ever
    /// put inside an instruction. Register-indirect jumps are not taken as exits: a switch's jump
    /// table looks the same.
    /// </summary>
    public static IReadOnlyList<ulong>? ExitSites(byte[] code, ulong address)
    {
        if (DecodeAll(code, address) is not { } instructions)
            return null;
        var end = address + (ulong)code.Length;
        var sites = new List<ulong>();
        foreach (var instruction in instructions)
        {
            var leaves = instruction.FlowControl switch
            {
                FlowControl.Return => true,
                FlowControl.UnconditionalBranch => instruction.IsJmpShortOrNear &&
                    (instruction.NearBranchTarget < address || instruction.NearBranchTarget >= end),
                FlowControl.IndirectBranch => instruction.Mnemonic == Mnemonic.Jmp && instruction.IsIPRelativeMemoryOperand,
                _ => false,
            };
            if (leaves && WhyUnprobeable(code.AsSpan((int)(instruction.IP - address))) is null)
                sites.Add(instruction.IP - address);
        }
        return sites;
    }

    /// <summary>The instructions of <paramref name="code"/>, loaded at <paramref name="address"/>; null unless it decodes cleanly to its end.</summary>
    public static List<Instruction>? DecodeAll(byte[] code, ulong address)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), address);
        var end = address + (ulong)code.Length;
        var instructions = new List<Instruction>();
        while (decoder.IP < end)
        {
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid || instruction.NextIP > end)
                return null;
            instructions.Add(instruction);
        }
        return instructions;
    }
}
