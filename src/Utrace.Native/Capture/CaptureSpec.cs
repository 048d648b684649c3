using System.Collections.Frozen;
using Utrace.Native.Bpf;

namespace Utrace;

/// <summary>
/// Which arguments (by position: rdi, rsi, rdx, rcx, r8, r9) and whether the return value of a
/// function to capture, and how to type them. Written "int, string -> ulong": argument types in
/// order, "_" for a position left out, and after "->" the return value's type; either part may be
/// left out ("-> int" captures only the return value). A C type in angle brackets ("&lt;double&gt;")
/// stands for a parameter that is not read and takes no register: "int, &lt;double&gt;, int" reads
/// the first and third parameters from rdi and rsi, as a call passes them.
/// </summary>
public sealed class CaptureSpec
{
    private static readonly FrozenDictionary<string, CaptureType> TypesByName = new Dictionary<string, CaptureType>(StringComparer.OrdinalIgnoreCase)
    {
        ["_"] = CaptureType.Skip,
        ["int"] = CaptureType.Int,
        ["uint"] = CaptureType.UInt,
        ["short"] = CaptureType.Short,
        ["ushort"] = CaptureType.UShort,
        ["long"] = CaptureType.Long,
        ["ulong"] = CaptureType.ULong,
        ["char"] = CaptureType.Char,
        ["bool"] = CaptureType.Bool,
        ["ptr"] = CaptureType.Pointer,
        ["pointer"] = CaptureType.Pointer,
        ["string"] = CaptureType.String,
        ["str"] = CaptureType.String,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>What a bad spec's error suggests.</summary>
    public const string Syntax = "Write argument types in order, then '->' and the return type: 'int', 'string, int', 'int -> long', '-> int', " +
        "'_, ptr' (the second argument only). Types: int, uint, long, ulong, short, ushort, char, bool, ptr, string; " +
        "a C type in angle brackets ('<double>') for a parameter not read, which takes no register. 'auto' takes the spec from debug info or Utrace's libc prototypes.";

    private readonly string?[] _unreadNames;
    private readonly int[] _registers;

    private CaptureSpec(IReadOnlyList<CaptureType> arguments, string?[] unreadNames, CaptureType? returns)
    {
        Arguments = arguments;
        _unreadNames = unreadNames;
        Returns = returns;
        // An unread parameter takes no register: the next one is in the register it would have had.
        _registers = new int[arguments.Count];
        var register = 0;
        for (var i = 0; i < arguments.Count; i++)
            _registers[i] = arguments[i] == CaptureType.Unread ? -1 : register++;
    }

    /// <summary>The type of each parameter in order; Skip for one left out, Unread for one not read.</summary>
    public IReadOnlyList<CaptureType> Arguments { get; }

    /// <summary>The argument register (0 = rdi ... 5 = r9) parameter <paramref name="index"/> is in; -1 for an unread one.</summary>
    public int RegisterOf(int index) => _registers[index];

    /// <summary>The return value's type, or null when it is not captured.</summary>
    public CaptureType? Returns { get; }

    /// <summary>True when an argument is a C string, which the kernel reads at entry.</summary>
    public bool ReadsStrings => Arguments.Contains(CaptureType.String);

    /// <summary>Reads a spec; a bad one is a <see cref="FormatException"/> that says what is wrong.</summary>
    public static CaptureSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var arrow = text.IndexOf("->", StringComparison.Ordinal);
        var argumentText = (arrow < 0 ? text : text[..arrow]).Trim();
        // 'int, int ->' leaves the return value out, as 'int, int' does.
        var returnText = arrow < 0 || text[(arrow + 2)..].Trim() is not { Length: > 0 } after ? null : after;
        if (returnText is not null && returnText.Contains("->", StringComparison.Ordinal))
            throw new FormatException($"The capture spec '{text}' has more than one '->'.");

        var words = argumentText.Length == 0 ? [] : argumentText.Split(',').Select(word => word.Trim()).ToArray();
        var arguments = words.Select(word => TypeOf(word, text)).ToArray();
        var unreadNames = words.Select((word, i) => arguments[i] == CaptureType.Unread ? word[1..^1].Trim() : null).ToArray();
        var inRegisters = arguments.Count(type => type != CaptureType.Unread);
        if (inRegisters > Abi.MaxArguments)
            throw new FormatException($"The capture spec '{text}' names {inRegisters} arguments: only the first {Abi.MaxArguments} are passed in registers (rdi, rsi, rdx, rcx, r8, r9), the others on the stack, which Utrace does not read.");
        CaptureType? returns = null;
        if (returnText is not null)
        {
            returns = TypeOf(returnText, text);
            if (returns is CaptureType.Skip or CaptureType.String or CaptureType.Unread)
                throw new FormatException($"The capture spec '{text}' returns '{returnText}': a return value is captured as a number; write 'ptr' for a returned string's address.");
        }
        if (!arguments.Any(type => type is not (CaptureType.Skip or CaptureType.Unread)) && returns is null)
            throw new FormatException($"The capture spec '{text}' captures nothing.");
        return new CaptureSpec(arguments, unreadNames, returns);
    }

    /// <summary>The spec in its canonical form, as Parse reads it back: "int, string -> ulong".</summary>
    public override string ToString()
    {
        var arguments = string.Join(", ", Arguments.Select((type, i) => type == CaptureType.Unread ? $"<{_unreadNames[i]}>" : NameOf(type)));
        return Returns is { } returns ? (arguments.Length == 0 ? $"-> {NameOf(returns)}" : $"{arguments} -> {NameOf(returns)}") : arguments;
    }

    /// <summary>The arguments of a call, typed; null when the call's argument registers were not captured.</summary>
    public CallArguments? ArgumentsOf(CapturedCall captured)
    {
        var registers = captured.RegisterValues;
        if (Arguments.Count == 0 || registers.Length != Abi.MaxArguments)
            return null;
        var values = new object?[Arguments.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var register = _registers[i];
            values[i] = Arguments[i] switch
            {
                CaptureType.Unread => new UnreadArgument(_unreadNames[i]!),
                CaptureType.String => StringAt(registers[register], captured.Strings is { } strings && register < strings.Count ? strings[register] : null),
                _ => Typed(Arguments[i], registers[register]),
            };
        }
        return new CallArguments(Arguments, values);
    }

    /// <summary>The return value of a call, typed; null when none was captured.</summary>
    public object? ReturnValueOf(CapturedCall captured) =>
        Returns is { } type && captured.ReturnValue is { } raw ? Typed(type, raw) : null;

    private static object? StringAt(ulong address, string? text) =>
        address == 0 ? null : text ?? (object)new UnreadableString(new Pointer(address));

    private static object? Typed(CaptureType type, ulong raw) => type switch
    {
        CaptureType.Int => (int)(uint)raw,
        CaptureType.UInt => (uint)raw,
        CaptureType.Long => (long)raw,
        CaptureType.ULong => raw,
        CaptureType.Short => (short)(ushort)raw,
        CaptureType.UShort => (ushort)raw,
        CaptureType.Char => (char)(byte)raw,
        CaptureType.Bool => (byte)raw != 0,
        CaptureType.Pointer => new Pointer(raw),
        _ => null,
    };

    private static CaptureType TypeOf(string word, string spec)
    {
        if (TypesByName.TryGetValue(word, out var type))
            return type;
        if (word.Length > 2 && word[0] == '<' && word[^1] == '>')
            return CaptureType.Unread;
        var why = word.ToLowerInvariant() switch
        {
            "" => "an empty type (two commas, or a comma at an end)",
            "float" or "double" => $"'{word}': floating-point arguments are passed in SSE registers, which a uprobe's BPF program cannot read",
            _ => $"'{word}', which is not a capture type",
        };
        throw new FormatException($"The capture spec '{spec}' has {why}.");
    }

    internal static string NameOf(CaptureType type) => type switch
    {
        CaptureType.Skip => "_",
        CaptureType.Pointer => "ptr",
        _ => type.ToString().ToLowerInvariant(),
    };
}
