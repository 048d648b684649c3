using System.Management.Automation;
using Utrace.Native.Recording;

namespace Utrace.PowerShell;

/// <summary>
/// Turns a deserialized CallEvent (remoting output, Import-Clixml) back into a CallEvent, which
/// Utrace.types.ps1xml asks PowerShell to do as each one arrives: Duration, SelfDuration and Start
/// come across as text, and would otherwise neither sort nor sum.
/// </summary>
public sealed class CallEventTypeConverter : PSTypeConverter
{
    // Shared by every conversion, so that the events of one trace share one context as they arrive.
    private static readonly ImportedCallTable Calls = new();

    // An event with captured values stays a property bag (with its Duration rebuilt): a CallEvent
    // made again here would have no capture spec to type them by, and would drop them.
    public override bool CanConvertFrom(PSObject sourceValue, Type destinationType) =>
        destinationType == typeof(CallEvent) && sourceValue?.Properties["DurationNs"] is not null
        && sourceValue.Properties["Arguments"]?.Value is null && sourceValue.Properties["ReturnValue"]?.Value is null;

    public override bool CanConvertFrom(object sourceValue, Type destinationType) =>
        sourceValue is PSObject bag && CanConvertFrom(bag, destinationType);

    public override object ConvertFrom(PSObject sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase)
    {
        try
        {
            lock (Calls)
                return CallPropertyReader.Read(sourceValue, "it", Calls);
        }
        catch (FormatException ex)
        {
            throw new PSInvalidCastException($"The object is not a CallEvent: {ex.Message}.", ex);
        }
    }

    public override object ConvertFrom(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase) =>
        sourceValue is PSObject bag
            ? ConvertFrom(bag, destinationType, formatProvider, ignoreCase)
            : throw new PSInvalidCastException($"A {sourceValue?.GetType().Name ?? "null"} does not convert to a CallEvent.");

    public override bool CanConvertTo(object sourceValue, Type destinationType) => false;

    public override object ConvertTo(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase) =>
        throw new PSInvalidCastException($"A CallEvent does not convert to {destinationType.Name}.");
}
