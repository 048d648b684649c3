using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

/// <summary>
/// Where the entry probe goes, for real x86-64 byte sequences (whole functions), by the rules of
/// arch/x86/kernel/uprobes.c in Linux 6.18: what it emulates, what it single-steps, which nops it optimizes.
/// </summary>
public sealed class EntryProbePlacementTests
{
    [Theory]
    // Emulated first instructions stay where they are.
    [InlineData("55 48 89 e5 5d c3", 0x1000, 0, EntryProbeKind.Emulated)]              // push %rbp
    [InlineData("41 54 41 5c c3", 0x1000, 0, EntryProbeKind.Emulated)]                 // push %r12
    [InlineData("90 90 90 90 90 8b 07 c3", 0x1000, 0, EntryProbeKind.Emulated)]       // gcc -fpatchable-function-entry=5
    [InlineData("e8 00 00 00 00 c3", 0x1000, 0, EntryProbeKind.Emulated)]             // call rel32
    [InlineData("74 01 c3 c3", 0x1000, 0, EntryProbeKind.Emulated)]                   // je
    [InlineData("0f 84 00 00 00 00 c3", 0x1000, 0, EntryProbeKind.Emulated)]          // je rel32
    [InlineData("e9 00 00 00 00", 0x1000, 0, EntryProbeKind.Emulated)]                // jmp rel32 (a tail call)
    [InlineData("0f 1f 40 00 55 c3", 0x1000, 0, EntryProbeKind.Emulated)]             // 4-byte nopl of the kernel's table
    // 5-byte nops: optimized unless they cross a page.
    [InlineData("0f 1f 44 00 00 8b 07 c3", 0x1000, 0, EntryProbeKind.OptimizedNop)]   // gcc -pg -mfentry -mnop-mcount
    [InlineData("0f 1f 44 00 08 8b 07 2b 06 c3", 0x1130, 0, EntryProbeKind.OptimizedNop)] // clang -fpatchable-function-entry=5
    [InlineData("66 66 66 66 90 c3", 0x1000, 0, EntryProbeKind.OptimizedNop)]         // nop behind four prefixes
    [InlineData("0f 1f 44 00 00 8b 07 c3", 0x1ffd, 0, EntryProbeKind.Emulated)]       // crosses a page: emulated only
    [InlineData("0f 1f 44 00 08 8b 07 2b 06 c3", 0x1ffd, 0, EntryProbeKind.SingleStepped)] // not the kernel's nop, crosses
    [InlineData("f3 0f 1e fa 0f 1f 44 00 00 8b 07 c3", 0x1000, 4, EntryProbeKind.OptimizedNop)] // endbr64, then the nop
    // Moved onto the first emulated instruction.
    [InlineData("48 89 f8 53 48 01 f0 5b c3", 0x1000, 3, EntryProbeKind.Moved)]       // mov %rdi,%rax; push %rbx
    [InlineData("f3 0f 1e fa 55 48 89 e5 5d c3", 0x1000, 4, EntryProbeKind.Moved)]    // endbr64; push %rbp
    [InlineData("8b 07 85 c0 74 01 c3 c3", 0x1000, 4, EntryProbeKind.Moved)]          // mov (%rdi),%eax; test; je
    [InlineData("48 89 7c 24 f8 55 5d c3", 0x1000, 5, EntryProbeKind.Moved)]          // a red-zone store is no harm
    [InlineData("8b 07 55 ff c8 75 fc 5d c3", 0x1000, 2, EntryProbeKind.Moved)]       // a jump lands after the push
    [InlineData("8b 07 55 ff c8 75 f9 5d c3", 0x1000, 2, EntryProbeKind.Moved)]       // a jump back to the entry itself
    [InlineData("31 c0 e9 00 00 00 00", 0x1000, 2, EntryProbeKind.Moved)]             // xor %eax,%eax; tail-call jmp
    // Go: past the stack check, whose slow path grows the stack and starts the call over from the entry.
    [InlineData("4c 8d a4 24 50 ff ff ff 4d 3b 66 10 0f 86 0f 00 00 00 48 81 ec 30 01 00 00 48 81 c4 30 01 00 00 c3 48 89 44 24 08 e8 00 00 00 00 48 8b 44 24 08 e9 cb ff ff ff", 0x1000, 0x12, EntryProbeKind.SingleStepped)] // lea; cmp r12,16(%r14); jbe; sub $0x130,%rsp
    [InlineData("49 3b 66 10 76 07 55 48 89 e5 5d c3 cc e8 00 00 00 00 eb ec", 0x1000, 6, EntryProbeKind.Moved)]          // cmp %rsp,16(%r14); jbe; push %rbp
    [InlineData("49 3b 66 10 76 07 55 48 89 e5 5d c3 cc e8 00 00 00 00 eb 00", 0x1000, 4, EntryProbeKind.Moved)] // slow path does not start over: the usual rule
    [InlineData("49 3b 66 18 76 07 55 48 89 e5 5d c3 cc e8 00 00 00 00 eb ec", 0x1000, 4, EntryProbeKind.Moved)] // not the stack guard: the usual rule
    // Kept at the entry, single-stepped.
    [InlineData("48 83 ec 08 55 5d 48 83 c4 08 c3", 0x1000, 0, EntryProbeKind.SingleStepped)] // sub $8,%rsp moves the stack
    [InlineData("48 89 f7 55 5d c3", 0x1000, 0, EntryProbeKind.SingleStepped)]        // mov %rsi,%rdi writes an argument
    [InlineData("89 f9 55 5d c3", 0x1000, 0, EntryProbeKind.SingleStepped)]           // mov %edi,%ecx writes an argument
    [InlineData("48 8b 04 24 55 5d c3", 0x1000, 0, EntryProbeKind.SingleStepped)]     // mov (%rsp),%rax reads the return address
    [InlineData("8b 07 55 ff c8 75 fb 5d c3", 0x1000, 0, EntryProbeKind.SingleStepped)] // a jump lands on the push
    [InlineData("8b 07 55 5d ff e0", 0x1000, 0, EntryProbeKind.SingleStepped)]        // jmp *%rax could land anywhere
    [InlineData("8b 07 c3", 0x1000, 0, EntryProbeKind.SingleStepped)]                 // nothing emulated before the ret
    [InlineData("8b 07 55 e8", 0x1000, 0, EntryProbeKind.SingleStepped)]              // cut inside an instruction
    [InlineData("48 50 58 c3", 0x1000, 0, EntryProbeKind.SingleStepped)]              // REX.W push: not emulated
    [InlineData("66 e8 00 00 c3", 0x1000, 0, EntryProbeKind.SingleStepped)]           // callw: the kernel will not emulate it
    [InlineData("ff 15 2a 2e 00 00 8b 07 c3", 0x1000, 0, EntryProbeKind.SingleStepped)] // gcc -pg -mfentry: call *__fentry__
    [InlineData("ff 25 e2 2f 00 00 68 00 00 00 00", 0x1000, 0, EntryProbeKind.SingleStepped)] // a PLT stub's jmp
    [InlineData("f3 0f 1e fa f2 ff 25 ad 2f 00 00", 0x1000, 0, EntryProbeKind.SingleStepped)] // endbr64; bnd jmp *...(%rip)
    // Refused by the kernel, not moved past.
    [InlineData("f0 ff 07 75 01 c3 c3", 0x1000, 0, EntryProbeKind.Refused)]          // lock decl; jne (pthread_spin_lock)
    public void ChoosesTheOffsetAndKind(string hex, ulong fileOffset, ulong offset, EntryProbeKind kind)
    {
        var code = Convert.FromHexString(hex.Replace(" ", ""));
        Assert.Equal(new EntryProbePlacement(offset, kind), EntryProbePlacement.Choose(code, fileOffset));
    }
}
