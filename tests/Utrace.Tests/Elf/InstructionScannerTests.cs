using System.Globalization;
using System.Text.RegularExpressions;
using Utrace.Native.Elf;
using Xunit;

namespace Utrace.Tests.Elf;

/// <summary>
/// Which first instructions the kernel refuses, and where functions end: checked against the
/// kernel's rule on hand-made bytes, and against objdump's disassembly of compiled code.
/// </summary>
public sealed partial class InstructionScannerTests
{
    [Theory]
    [InlineData("f0 ff 07", "lock prefix")]             // lock incl (%rdi): pthread_spin_lock's first instruction
    [InlineData("66 f0 0f b1 17", "lock prefix")]       // data16 lock cmpxchg
    [InlineData("3e ff e0", "segment prefix")]           // notrack jmp *%rax
    [InlineData("2e 0f 1f 84 00 00 00 00 00", "segment prefix")] // cs nopw
    [InlineData("55", null)]                             // push %rbp
    [InlineData("f3 0f 1e fa", null)]                    // endbr64
    [InlineData("64 48 8b 04 25 28 00 00 00", null)]     // mov %fs:0x28,%rax
    public void RefusesWhatTheKernelRefuses(string hex, string? reason)
    {
        var why = InstructionScanner.WhyUnprobeable(Convert.FromHexString(hex.Replace(" ", "")));
        if (reason is null)
            Assert.Null(why);
        else
            Assert.Contains(reason, why);
    }

    [Fact]
    public void UndecodableCodeHasNoExitSites()
    {
        // A function cut in the middle of an instruction: no probe may be placed by guessing.
        Assert.Null(InstructionScanner.ExitSites(Convert.FromHexString("554889e5c3e8"), 0x1000));
    }

    public static TheoryData<string> Optimisations => new() { "-O0", "-O2", "-Os" };

    [Theory]
    [MemberData(nameof(Optimisations))]
    public void ExitSitesAreObjdumpsRetsAndJumpsOut(string optimisation)
    {
        using var dir = new TempDirectory();
        var source = Path.Combine(dir.Path, "exits.c");
        File.WriteAllText(source, """
            #include <stdlib.h>
            __attribute__((noinline)) int leaf(int x) { return x * 3 + 1; }
            __attribute__((noinline)) int tail(int x) { if (x > 10) return leaf(x - 1); return x; }
            __attribute__((noinline)) int sw(int x) {
                switch (x) { case 0: return leaf(1) + 7; case 1: return 12; case 2: return leaf(3) * 2; case 3: return 99; case 4: return -4; default: return tail(x) + 1; }
            }
            __attribute__((noinline)) void *wrap(size_t n) { return malloc(n); }
            int main(int argc, char **argv) { (void)argv; free(wrap(8)); return sw(argc) + tail(argc); }
            """);
        var binary = Path.Combine(dir.Path, "exits");
        Tool.Run("gcc", optimisation, "-fno-pie", "-no-pie", "-o", binary, source);

        var functions = ElfImage.Open(binary).Functions.Where(f => f.Name is "leaf" or "tail" or "sw" or "wrap" or "main").ToArray();
        Assert.Equal(5, functions.Length);
        var disassembly = Tool.Run("objdump", "-d", "--no-show-raw-insn", binary);
        var bytes = File.ReadAllBytes(binary);
        foreach (var function in functions)
        {
            var code = bytes.AsSpan((int)function.FileOffset, (int)function.Size).ToArray();
            var sites = InstructionScanner.ExitSites(code, function.Address);
            Assert.NotNull(sites);
            Assert.Equal(ObjdumpExits(disassembly, function), sites.Select(offset => function.Address + offset).ToArray());
        }
    }

    // The addresses objdump shows for `ret`, and for `jmp` to another symbol or through a RIP-relative slot.
    private static ulong[] ObjdumpExits(string disassembly, ElfFunction function)
    {
        var body = Regex.Match(disassembly, $@"^0*{function.Address:x} <{Regex.Escape(function.RawName)}>:\n(.*?)(?:\n\n|\z)",
            RegexOptions.Singleline | RegexOptions.Multiline);
        Assert.True(body.Success, $"objdump shows no {function.RawName}");
        return InstructionLine().Matches(body.Groups[1].Value)
            .Where(m => IsExit(m.Groups["insn"].Value, function.RawName))
            .Select(m => ulong.Parse(m.Groups["address"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture))
            .ToArray();
    }

    private static bool IsExit(string instruction, string function)
    {
        var parts = instruction.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
        var mnemonic = parts[0] is "bnd" or "rep" or "repz" && parts.Length > 1 ? parts[1].Split(' ')[0] : parts[0];
        if (mnemonic.StartsWith("ret", StringComparison.Ordinal))
            return true;
        if (!mnemonic.StartsWith("jmp", StringComparison.Ordinal))
            return false;
        var target = Regex.Match(instruction, @"<([^>+]+)(\+0x[0-9a-f]+)?>");
        return instruction.Contains("(%rip)", StringComparison.Ordinal) || (target.Success && target.Groups[1].Value != function);
    }

    [GeneratedRegex(@"^\s*(?<address>[0-9a-f]+):\s+(?<insn>.+)$", RegexOptions.Multiline)]
    private static partial Regex InstructionLine();

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("utrace-insn").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
