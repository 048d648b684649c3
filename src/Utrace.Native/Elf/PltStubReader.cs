using System.Buffers.Binary;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;

namespace Utrace.Native.Elf;

/// <summary>
/// Finds the PLT stubs of a file the way binutils makes its synthetic "name@plt" symbols: each stub's
/// indirect jump names a GOT slot, and the dynamic relocation of that slot names the import.
/// </summary>
internal static class PltStubReader
{
    private const uint R_X86_64_GLOB_DAT = 6;
    private const uint R_X86_64_JUMP_SLOT = 7;
    private const int RelaEntrySize = 24;
    private const int JumpLength = 6; // ff 25 disp32: jmp *disp32(%rip)

    // .plt.sec holds the stubs when IBT is on (its .plt entries then only push and jump to PLT0);
    // .plt.got holds stubs for imports that are also reached through the GOT (GLOB_DAT).
    private static readonly string[] StubSections = [".plt", ".plt.sec", ".plt.got"];

    internal static IReadOnlyList<ElfFunction> Read(ELF<ulong> elf, IReadOnlyList<SymbolEntry<ulong>> dynamicSymbols)
    {
        var slots = ImportsByGotSlot(elf, dynamicSymbols);
        var stubs = new List<ElfFunction>();
        if (slots.Count == 0)
        {
            return stubs;
        }

        foreach (var name in StubSections)
        {
            if (!elf.TryGetSection(name, out var section))
            {
                continue;
            }

            var code = section.GetContents();
            var entrySize = section.EntrySize != 0 ? (int)section.EntrySize : 16;
            // PLT0 needs no special case: it jumps to GOT[2], which no relocation names.
            for (var start = 0; start + entrySize <= code.Length; start += entrySize)
            {
                var address = section.LoadAddress + (ulong)start;
                if (FindImport(code.AsSpan(start, entrySize), address, slots) is { } import && !FunctionTable.IsStartupNoise(import))
                {
                    stubs.Add(new ElfFunction(import, FunctionKind.LibraryCall, address, section.Offset + (ulong)start, (ulong)entrySize));
                }
            }
        }

        stubs.Sort((x, y) => x.Address.CompareTo(y.Address));
        return stubs;
    }

    /// <summary>The import whose GOT slot the entry's "jmp *disp32(%rip)" reads, whatever prefixes (endbr64, bnd) precede it.</summary>
    private static string? FindImport(ReadOnlySpan<byte> entry, ulong entryAddress, Dictionary<ulong, SymbolEntry<ulong>> slots)
    {
        for (var i = 0; i + JumpLength <= entry.Length; i++)
        {
            if (entry[i] != 0xff || entry[i + 1] != 0x25)
            {
                continue;
            }

            var displacement = BinaryPrimitives.ReadInt32LittleEndian(entry[(i + 2)..]);
            var slot = entryAddress + (ulong)(i + JumpLength) + (ulong)(long)displacement;
            if (slots.TryGetValue(slot, out var import))
            {
                return import.Name;
            }
        }

        return null;
    }

    /// <summary>The imported symbols whose addresses the dynamic linker writes in GOT slots (JUMP_SLOT and GLOB_DAT relocations), by slot address.</summary>
    internal static Dictionary<ulong, SymbolEntry<ulong>> ImportsByGotSlot(ELF<ulong> elf, IReadOnlyList<SymbolEntry<ulong>> dynamicSymbols)
    {
        var slots = new Dictionary<ulong, SymbolEntry<ulong>>();
        AddSlots(elf, ".rela.plt", R_X86_64_JUMP_SLOT, dynamicSymbols, slots);
        AddSlots(elf, ".rela.dyn", R_X86_64_GLOB_DAT, dynamicSymbols, slots);
        return slots;
    }

    // ELFSharp does not decode relocations; an Elf64_Rela is r_offset, r_info (symbol << 32 | type), r_addend.
    private static void AddSlots(ELF<ulong> elf, string sectionName, uint type, IReadOnlyList<SymbolEntry<ulong>> dynamicSymbols, Dictionary<ulong, SymbolEntry<ulong>> slots)
    {
        if (!elf.TryGetSection(sectionName, out var section))
        {
            return;
        }

        ReadOnlySpan<byte> relocations = section.GetContents();
        for (var entry = 0; entry + RelaEntrySize <= relocations.Length; entry += RelaEntrySize)
        {
            var offset = BinaryPrimitives.ReadUInt64LittleEndian(relocations[entry..]);
            var info = BinaryPrimitives.ReadUInt64LittleEndian(relocations[(entry + 8)..]);
            var symbol = info >> 32;
            if ((uint)info == type && symbol != 0 && symbol < (ulong)dynamicSymbols.Count)
            {
                slots[offset] = dynamicSymbols[(int)symbol];
            }
        }
    }
}
