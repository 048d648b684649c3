using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Utrace.Native.Bpf;
using Xunit;

namespace Utrace.Tests.Bpf;

/// <summary>bpf/utrace.h is the contract with the BPF side: the C# mirrors must have its exact layout.</summary>
public sealed partial class AbiLayoutTests
{
    public static TheoryData<string, Type> Structs => new()
    {
        { "utrace_event", typeof(EventRecord) },
        { "utrace_config", typeof(TraceConfig) },
        { "utrace_stats", typeof(StatsRecord) },
    };

    [Theory]
    [MemberData(nameof(Structs))]
    public void MirrorMatchesHeader(string cStruct, Type mirror)
    {
        var fields = HeaderFields(cStruct);
        var measured = MeasureWithCompiler(cStruct, fields);

        var managed = mirror.GetFields(BindingFlags.Public | BindingFlags.Instance);
        Assert.Equal(fields.Select(PascalCase), managed.Select(f => f.Name));
        Assert.Equal(measured["sizeof"], Marshal.SizeOf(mirror));
        foreach (var field in fields)
        {
            Assert.Equal(measured[field], (int)Marshal.OffsetOf(mirror, PascalCase(field)));
            Assert.Equal(measured["sizeof_" + field], Marshal.SizeOf(mirror.GetField(PascalCase(field))!.FieldType));
        }
    }

    [Fact]
    public void MaxDepthMatchesHeader()
    {
        var header = File.ReadAllText(RepoPaths.File("bpf/utrace.h"));
        Assert.Matches($@"#define UTRACE_MAX_DEPTH {Abi.MaxDepth}\b", header);
        Assert.Matches(@"#define UTRACE_NO_CALLER 0xffffffffu", header);
        Assert.Equal(0xffffffffu, EventRecord.NoCaller);
    }

    private static List<string> HeaderFields(string cStruct)
    {
        var header = File.ReadAllText(RepoPaths.File("bpf/utrace.h"));
        var body = Regex.Match(header, $@"struct {cStruct} \{{(.*?)\}};", RegexOptions.Singleline);
        Assert.True(body.Success, $"struct {cStruct} is not in bpf/utrace.h");
        return FieldPattern().Matches(body.Groups[1].Value).Select(m => m.Groups[1].Value).ToList();
    }

    private static Dictionary<string, int> MeasureWithCompiler(string cStruct, List<string> fields)
    {
        var dir = Directory.CreateTempSubdirectory("utrace-abi");
        var source = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include \"utrace.h\"\nint main(void) {\n");
        source.AppendLine($"printf(\"sizeof %zu\\n\", sizeof(struct {cStruct}));");
        foreach (var f in fields)
        {
            source.AppendLine($"printf(\"{f} %zu\\n\", offsetof(struct {cStruct}, {f}));");
            source.AppendLine($"printf(\"sizeof_{f} %zu\\n\", sizeof(((struct {cStruct} *)0)->{f}));");
        }
        source.AppendLine("return 0; }");
        var program = Path.Combine(dir.FullName, "layout");
        File.WriteAllText(program + ".c", source.ToString());
        Run("cc", $"-I{RepoPaths.File("bpf")} -o {program} {program}.c");
        return Run(program, "").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .ToDictionary(p => p[0], p => int.Parse(p[1]));
    }

    private static string Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {arguments} failed: {errors}");
        return output;
    }

    private static string PascalCase(string snake) =>
        string.Concat(snake.Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..]));

    [GeneratedRegex(@"__u\d+\s+(\w+);")]
    private static partial Regex FieldPattern();
}
