using System.Collections;
using System.Globalization;
using System.Text;

namespace Utrace;

/// <summary>
/// A call's captured arguments in order (index 0 = first argument), each typed by the spec:
/// Int32, UInt32, Int64, UInt64, Int16, UInt16, Char, Boolean, <see cref="Pointer"/>, String (null for NULL),
/// <see cref="UnreadableString"/> or <see cref="UnreadArgument"/>; null where the spec says "_". Prints as the argument list of
/// a call in C: 10, "abc", 0x7ffc1234.
/// </summary>
public sealed class CallArguments : IReadOnlyList<object?>
{
    private readonly IReadOnlyList<CaptureType> _types;
    private readonly object?[] _values;

    internal CallArguments(IReadOnlyList<CaptureType> types, object?[] values)
    {
        _types = types;
        _values = values;
    }

    public int Count => _values.Length;

    public object? this[int index] => _values[index];

    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)_values).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _values.GetEnumerator();

    public override string ToString() => string.Join(", ", _values.Select((value, i) => Show(_types[i], value)));

    private static string Show(CaptureType type, object? value) => value is null ? (type == CaptureType.Skip ? "_" : "NULL") : ShowValue(value);

    /// <summary>A captured value as C writes it: "abc" quoted, 'c', true, 10, 0x7ffc1234.</summary>
    internal static string ShowValue(object value) => value switch
    {
        string text => Quote(text),
        char c => c is >= ' ' and < '\x7f' and not '\'' and not '\\' ? $"'{c}'" : $"'\\x{(int)c:x2}'",
        bool b => b ? "true" : "false",
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>A C string literal: quotes, backslashes and control characters escaped.</summary>
    private static string Quote(string text)
    {
        var quoted = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            _ = c switch
            {
                '"' => quoted.Append("\\\""),
                '\\' => quoted.Append("\\\\"),
                '\n' => quoted.Append("\\n"),
                '\t' => quoted.Append("\\t"),
                < ' ' or '\x7f' => quoted.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => quoted.Append(c),
            };
        }
        return quoted.Append('"').ToString();
    }
}
