using System.Globalization;
using System.Management.Automation;

namespace Utrace.PowerShell;

/// <summary>
/// Lets PowerShell turn what users type into a Duration. PowerShell reads <c>250us</c> as the
/// UInt16 250 and <c>2s</c> as the Int16 2 (<c>us</c> and <c>s</c> are its numeric type suffixes),
/// so those two types are taken as microseconds and seconds; strings go through Duration.Parse.
/// PowerShell rounds <c>2.5s</c> to the Int16 2 before anything else sees it: write 2500ms.
/// </summary>
public sealed class DurationTypeConverter : PSTypeConverter
{
    public override bool CanConvertFrom(object sourceValue, Type destinationType) =>
        destinationType == typeof(Duration) && TextOf(sourceValue) is not null;

    public override object ConvertFrom(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase)
    {
        var text = TextOf(sourceValue) ?? throw new PSInvalidCastException($"Cannot convert a {sourceValue?.GetType().Name ?? "null"} to a Duration.");
        return Duration.TryParse(text, out var duration)
            ? duration
            : throw new PSInvalidCastException($"'{text}' is not a duration: write a number and a unit, such as 100ns, 250us, 1.5ms or 2s.");
    }

    public override bool CanConvertTo(object sourceValue, Type destinationType) => false;

    public override object ConvertTo(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase) =>
        throw new PSInvalidCastException($"A Duration does not convert to {destinationType.Name}.");

    private static string? TextOf(object? value) => value switch
    {
        PSObject wrapped => TextOf(wrapped.BaseObject),
        ushort microseconds => $"{microseconds}us",
        short seconds => $"{seconds}s",
        string s => s,
        _ => null,
    };
}
