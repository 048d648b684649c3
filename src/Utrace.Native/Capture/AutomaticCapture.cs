using Utrace.Native.Bpf;
using Utrace.Native.Elf;

namespace Utrace;

/// <summary>
/// The spec -Capture auto gives a function: from its prototype in DWARF (a program built with -g),
/// else, for a C library function, from <see cref="LibcPrototypes"/>. Parameters go to registers
/// as the x86-64 System V ABI passes them: integers, pointers and strings in rdi...r9 in order, a
/// float or double in an SSE register (shown, not read: &lt;double&gt;); a struct by value is shown
/// as &lt;struct&gt;, and every parameter after it too, since its layout decides its registers.
/// </summary>
internal static class AutomaticCapture
{
    /// <summary>The spec for <paramref name="function"/>, or null when neither its debug info nor the libc table knows it, or it has nothing to read.</summary>
    public static CaptureSpec? For(FunctionInfo function) =>
        (function.Prototype is { } prototype ? FromPrototype(prototype) : null)
        ?? (IsCLibraryFunction(function) ? LibcPrototypes.Of(function.RawName) : null);

    /// <summary>The spec that reads what <paramref name="prototype"/> passes in registers; null when that is nothing.</summary>
    internal static CaptureSpec? FromPrototype(CPrototype prototype)
    {
        // A struct returned in memory comes back through a pointer in rdi, which moves every parameter.
        var registersKnown = prototype.Returns.Kind != CTypeKind.Aggregate;
        var registers = 0;
        var words = new List<string>();
        foreach (var parameter in prototype.Parameters)
        {
            var word = registersKnown && registers < Abi.MaxArguments ? WordOf(parameter) : null;
            if (word is null)
            {
                words.Add($"<{parameter.Name}>");
                registersKnown &= parameter.Kind == CTypeKind.Float;
                continue;
            }
            words.Add(word);
            registers++;
        }
        var returns = prototype.Returns.Kind == CTypeKind.String ? "ptr" : WordOf(prototype.Returns);
        if (registers == 0 && returns is null)
            return null;
        var arguments = string.Join(", ", words);
        return CaptureSpec.Parse(returns is null ? arguments : $"{arguments} -> {returns}");
    }

    /// <summary>The spec word of a type one general-purpose register holds; null for any other.</summary>
    private static string? WordOf(CType type) => type.Kind switch
    {
        CTypeKind.String => "string",
        CTypeKind.Pointer => "ptr",
        CTypeKind.Boolean => "bool",
        CTypeKind.Character => "char",
        CTypeKind.Integer => (type.Size, type.Signed) switch
        {
            (1, _) => "char",
            (2, true) => "short",
            (2, false) => "ushort",
            (4, true) => "int",
            (4, false) => "uint",
            (8, true) => "long",
            (8, false) => "ulong",
            _ => null,
        },
        _ => null,
    };

    private static bool IsCLibraryFunction(FunctionInfo function) =>
        function.Kind == FunctionKind.LibraryCall || function.Module.StartsWith("libc.so", StringComparison.Ordinal);
}
