using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using Iced.Intel;

namespace Utrace.Native.Elf;

/// <summary>
/// One place in a program's own code that calls an imported function through its GOT slot, without a PLT stub
/// (code built with -fno-plt): `call *foo@GOTPCREL(%rip)`, or a call through a register loaded from that slot.
/// <paramref name="ReturnAddress"/> is the instruction the call returns to, or null when that return cannot be
/// probed: a tail-call jmp, a call that ends its function, or a next instruction the kernel refuses.
/// </summary>
internal readonly record struct GotCallSite(string Import, ulong Address, ulong FileOffset, ulong? ReturnAddress)
{
    /// <summary>The file offset of <see cref="ReturnAddress"/>.</summary>
    public ulong? ReturnFileOffset => ReturnAddress - Address + FileOffset;
}

/// <summary>
/// Finds the call sites of imported functions in a program's own functions by decoding them (x86-64, with Iced).
/// Only whole functions that decode cleanly are read, so that no probe ever lands inside an instruction.
/// </summary>
internal static class GotCallReader
{
    private const SymbolType STT_GNU_IFUNC = (SymbolType)10;

    /// <summary>The GOT call sites in <paramref name="functions"/> (the file's own code), sorted by address.</summary>
    internal static IReadOnlyList<GotCallSite> Read(ELF<ulong> elf, IReadOnlyList<SymbolEntry<ulong>> dynamicSymbols, IReadOnlyList<ElfFunction> functions)
    {
        // Only slots of functions: a GOT slot of data (stdout, environ) is loaded into registers all the time.
        var imports = PltStubReader.ImportsByGotSlot(elf, dynamicSymbols)
            .Where(slot => slot.Value.Type is SymbolType.Function or STT_GNU_IFUNC && !FunctionTable.IsStartupNoise(slot.Value.Name))
            .ToDictionary(slot => slot.Key, slot => slot.Value.Name);
        var sites = new List<GotCallSite>();
        if (imports.Count == 0)
            return sites;
        var code = elf.Sections.OfType<ProgBitsSection<ulong>>()
            .Where(section => (section.Flags & SectionFlags.Executable) != 0 && !section.Name.StartsWith(".plt", StringComparison.Ordinal))
            .Select(section => (Section: section, Bytes: section.GetContents()))
            .ToArray();
        foreach (var function in functions)
        {
            var (section, bytes) = code.FirstOrDefault(c => function.Address >= c.Section.LoadAddress && function.Address + function.Size <= c.Section.LoadAddress + c.Section.Size);
            if (section is null)
                continue;
            var start = (int)(function.Address - section.LoadAddress);
            sites.AddRange(InFunction(bytes.AsSpan(start, (int)function.Size).ToArray(), function.Address, function.FileOffset, imports));
        }
        sites.Sort((x, y) => x.Address.CompareTo(y.Address));
        return sites;
    }

    /// <summary>
    /// The call sites in one function's <paramref name="code"/>, loaded at <paramref name="address"/> and found at
    /// <paramref name="fileOffset"/> in its file; <paramref name="imports"/> names the functions' GOT slots by address.
    /// None when the code does not decode cleanly to its end.
    /// </summary>
    internal static IReadOnlyList<GotCallSite> InFunction(byte[] code, ulong address, ulong fileOffset, IReadOnlyDictionary<ulong, string> imports)
    {
        var instructions = InstructionScanner.DecodeAll(code, address);
        if (instructions is null)
            return [];
        var end = address + (ulong)code.Length;
        var loads = RegisterLoads(instructions, imports);
        var sites = new List<GotCallSite>();
        for (var i = 0; i < instructions.Count; i++)
        {
            var instruction = instructions[i];
            if (instruction.Mnemonic is not (Mnemonic.Call or Mnemonic.Jmp) || CalledImport(instruction, imports, loads) is not { } import)
                continue;
            var offset = (int)(instruction.IP - address);
            if (InstructionScanner.WhyUnprobeable(code.AsSpan(offset)) is not null)
                continue;
            // The instruction after a call is where it returns: also probed, unless it is past the function
            // (a call that never returns) or the kernel cannot probe it.
            var next = instruction.NextIP;
            var returns = instruction.Mnemonic == Mnemonic.Call && next < end
                && InstructionScanner.WhyUnprobeable(code.AsSpan((int)(next - address))) is null;
            sites.Add(new GotCallSite(import, instruction.IP, fileOffset + (ulong)offset, returns ? next : null));
        }
        return sites;
    }

    /// <summary>The import a call or jmp reaches: through its GOT slot, or through a register that holds the slot's value.</summary>
    private static string? CalledImport(in Instruction instruction, IReadOnlyDictionary<ulong, string> imports, IReadOnlyDictionary<Register, string> loads) =>
        instruction.Op0Kind switch
        {
            OpKind.Memory when instruction.IsIPRelativeMemoryOperand => imports.GetValueOrDefault(instruction.IPRelativeMemoryAddress),
            OpKind.Register => loads.GetValueOrDefault(instruction.Op0Register),
            _ => null,
        };

    /// <summary>
    /// Registers that hold an import's address wherever the function reads them: loaded from its GOT slot
    /// (`mov foo@GOTPCREL(%rip), %r12`, as a compiler hoists the load out of a loop of calls) and written by
    /// no other instruction of the function but the pop that gives the caller's value back before a return.
    /// </summary>
    private static Dictionary<Register, string> RegisterLoads(List<Instruction> instructions, IReadOnlyDictionary<ulong, string> imports)
    {
        var loads = new Dictionary<Register, string>();
        foreach (var instruction in instructions)
        {
            if (instruction is { Mnemonic: Mnemonic.Mov, Op0Kind: OpKind.Register, Op1Kind: OpKind.Memory, IsIPRelativeMemoryOperand: true }
                && instruction.Op0Register.GetSize() == 8 && imports.TryGetValue(instruction.IPRelativeMemoryAddress, out var import))
                loads[instruction.Op0Register] = import;
        }
        if (loads.Count == 0)
            return loads;
        var writes = new Dictionary<Register, int>();
        var info = new InstructionInfoFactory();
        foreach (var instruction in instructions)
        {
            if (instruction.Mnemonic == Mnemonic.Pop)
                continue;
            foreach (var used in info.GetInfo(instruction).GetUsedRegisters())
            {
                if (used.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite)
                    writes[used.Register.GetFullRegister()] = writes.GetValueOrDefault(used.Register.GetFullRegister()) + 1;
            }
        }
        foreach (var register in loads.Keys.Where(register => writes.GetValueOrDefault(register) != 1).ToArray())
            loads.Remove(register);
        return loads;
    }
}
