using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Utrace.Tests.Elf;

namespace Utrace.Tests.Bpf;

/// <summary>A field of a header struct as the compiler lays it out. CType is the desugared C type ("unsigned int", "struct x [4]").</summary>
internal sealed record HeaderField(string Name, string CType, int Offset, int Size);

/// <summary>A struct or union of the header: "struct name" or "union name", its size, its fields in order.</summary>
internal sealed record HeaderRecord(string Tag, string Name, int Size, IReadOnlyList<HeaderField> Fields);

/// <summary>
/// What a C header defines, read from the compiler rather than from the text: the records and enumerators from
/// clang's AST (-ast-dump=json), the object-like macros from the preprocessor (-E -dD), and every size, offset
/// and value from a C program that prints them. The header is included after &lt;linux/types.h&gt;, as the BPF
/// program includes it.
/// </summary>
internal sealed partial class HeaderAbi
{
    private HeaderAbi(IReadOnlyList<HeaderRecord> records, IReadOnlyDictionary<string, Int128> constants)
    {
        Records = records;
        Constants = constants;
    }

    public IReadOnlyList<HeaderRecord> Records { get; }

    /// <summary>Every object-like macro with a value, and every enumerator, by name.</summary>
    public IReadOnlyDictionary<string, Int128> Constants { get; }

    public static HeaderAbi Read(string header)
    {
        header = Path.GetFullPath(header);
        var directory = Directory.CreateTempSubdirectory("utrace-abi-");
        try
        {
            var probe = Path.Combine(directory.FullName, "probe.c");
            File.WriteAllText(probe, $"#include <linux/types.h>\n#include \"{header}\"\n");
            var (records, enumerators) = Declarations(Tool.Run("clang", "-Xclang", "-ast-dump=json", "-fsyntax-only", probe), header);
            var constants = enumerators.Concat(Macros(Tool.Run("clang", "-E", "-dD", probe), header)).ToArray();
            var measured = Measure(directory.FullName, header, records, constants);
            return new HeaderAbi(
                records.Select(record => new HeaderRecord(
                    record.Tag, record.Name, measured[$"{record.Name} sizeof"],
                    record.Fields.Select(field => new HeaderField(
                        field.Name, field.CType, measured[$"{record.Name} {field.Name} offset"], measured[$"{record.Name} {field.Name} size"])).ToArray()))
                    .ToArray(),
                constants.ToDictionary(name => name, name => Int128.Parse(measured.Text(name), CultureInfo.InvariantCulture)));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private sealed record DeclaredRecord(string Tag, string Name, IReadOnlyList<(string Name, string CType)> Fields);

    /// <summary>
    /// The records and enumerators declared in <paramref name="header"/>. clang's JSON names a location's file only
    /// when it differs from the previous location printed, so the current file is followed in document order.
    /// </summary>
    private static (List<DeclaredRecord> Records, List<string> Enumerators) Declarations(string astJson, string header)
    {
        var records = new List<DeclaredRecord>();
        var enumerators = new List<string>();
        using var ast = JsonDocument.Parse(astJson, new JsonDocumentOptions { MaxDepth = 4096 });
        string? file = null;
        foreach (var declaration in ast.RootElement.GetProperty("inner").EnumerateArray())
        {
            string? declaredIn = null;
            foreach (var property in declaration.EnumerateObject())
            {
                FollowFile(property.Value, ref file);
                if (property.Name == "loc")
                    declaredIn = file;
            }
            if (declaredIn == header)
                Collect(declaration, records, enumerators);
        }
        return (records, enumerators);
    }

    private static void FollowFile(JsonElement element, ref string? file)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                // "includedFrom" names the includer, not the location's own file.
                if (property.Name == "file" && property.Value.ValueKind == JsonValueKind.String)
                    file = property.Value.GetString();
                else if (property.Name != "includedFrom")
                    FollowFile(property.Value, ref file);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
                FollowFile(item, ref file);
        }
    }

    private static void Collect(JsonElement declaration, List<DeclaredRecord> records, List<string> enumerators)
    {
        var kind = declaration.GetProperty("kind").GetString();
        var inner = declaration.TryGetProperty("inner", out var children) ? children.EnumerateArray().ToArray() : [];
        if (kind == "RecordDecl" && declaration.TryGetProperty("completeDefinition", out _))
        {
            var name = declaration.TryGetProperty("name", out var n) ? n.GetString() : null;
            if (string.IsNullOrEmpty(name))
                throw new InvalidOperationException("The header defines an anonymous struct or union: name it, so its C# mirror can name it too.");
            // A struct defined inside another is a record of its own in C.
            foreach (var nested in inner.Where(child => child.GetProperty("kind").GetString() == "RecordDecl"))
                Collect(nested, records, enumerators);
            var fields = inner.Where(child => child.GetProperty("kind").GetString() == "FieldDecl")
                .Select(field => (
                    field.TryGetProperty("name", out var f) ? f.GetString()! : throw new InvalidOperationException($"{name} has an unnamed field."),
                    CType(field.GetProperty("type"))))
                .ToArray();
            records.Add(new DeclaredRecord(declaration.GetProperty("tagUsed").GetString()!, name, fields));
        }
        else if (kind == "EnumDecl")
        {
            enumerators.AddRange(inner.Where(child => child.GetProperty("kind").GetString() == "EnumConstantDecl")
                .Select(constant => constant.GetProperty("name").GetString()!));
        }
    }

    private static string CType(JsonElement type) =>
        (type.TryGetProperty("desugaredQualType", out var desugared) ? desugared : type.GetProperty("qualType")).GetString()!;

    /// <summary>The object-like macros with a value that <paramref name="header"/> itself defines (-dD keeps line markers).</summary>
    private static IEnumerable<string> Macros(string preprocessed, string header)
    {
        string? file = null;
        foreach (var line in preprocessed.Split('\n'))
        {
            if (LineMarker().Match(line) is { Success: true } marker)
                file = marker.Groups[1].Value;
            else if (file == header && ObjectLikeDefine().Match(line) is { Success: true } define)
                yield return define.Groups[1].Value;
        }
    }

    /// <summary>Compiles and runs a program that prints every size, offset and constant value; returns them by key.</summary>
    private static MeasuredValues Measure(string directory, string header, List<DeclaredRecord> records, IEnumerable<string> constants)
    {
        var source = new StringBuilder($"#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include \"{header}\"\nint main(void)\n{{\n");
        foreach (var record in records)
        {
            var type = $"{record.Tag} {record.Name}";
            source.AppendLine($"\tprintf(\"{record.Name} sizeof=%zu\\n\", sizeof({type}));");
            foreach (var (field, _) in record.Fields)
            {
                source.AppendLine($"\tprintf(\"{record.Name} {field} offset=%zu\\n\", offsetof({type}, {field}));");
                source.AppendLine($"\tprintf(\"{record.Name} {field} size=%zu\\n\", sizeof((({type} *)0)->{field}));");
            }
        }
        foreach (var constant in constants)
        {
            // Printed as signed when negative, so that 0xffffffffu and -1 stay apart.
            source.AppendLine($"\tif (({constant}) < 0) printf(\"{constant}=%lld\\n\", (long long)({constant})); else printf(\"{constant}=%llu\\n\", (unsigned long long)({constant}));");
        }
        source.AppendLine("\treturn 0;\n}");
        var program = Path.Combine(directory, "measure");
        File.WriteAllText(program + ".c", source.ToString());
        Tool.Run("cc", "-Wall", "-Werror", "-o", program, program + ".c");
        return new MeasuredValues(Tool.Run(program).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1]));
    }

    private sealed class MeasuredValues(Dictionary<string, string> values)
    {
        public int this[string key] => int.Parse(values[key], CultureInfo.InvariantCulture);

        public string Text(string key) => values[key];
    }

    // # 12 "/path/file.h" 2
    [GeneratedRegex(@"^# \d+ ""(.*)""")]
    private static partial Regex LineMarker();

    // An object-like macro has no "(" right after its name; an empty one (an include guard) has no value.
    [GeneratedRegex(@"^#define (\w+)(?!\()\s+\S")]
    private static partial Regex ObjectLikeDefine();
}
