using System.Globalization;
using System.Management.Automation;
using Utrace.Native.Recording;

namespace Utrace.PowerShell;

/// <summary>
/// What Utrace.types.ps1xml gives a deserialized CallEvent (remoting output, Import-Clixml): it is
/// turned back into a CallEvent as it arrives, since Duration, SelfDuration and Start come across
/// as text and would otherwise neither sort nor sum; where it stays a property bag (over SSH
/// remoting, which does not rehydrate, or with captured values), its Duration and SelfDuration
/// are made from the exact DurationNs and SelfNs that crossed the wire.
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

    /// <summary>The Duration code property of a deserialized CallEvent that stays a property bag.</summary>
    public static Duration Duration(PSObject instance) => Nanoseconds(instance, "DurationNs");

    /// <summary>The SelfDuration code property of a deserialized CallEvent that stays a property bag.</summary>
    public static Duration SelfDuration(PSObject instance) => Nanoseconds(instance, "SelfNs");

    private static Duration Nanoseconds(PSObject instance, string property) =>
        Utrace.Duration.FromNanoseconds(Convert.ToInt64(instance.Properties[property]?.Value ?? 0L, CultureInfo.InvariantCulture));

    public override bool CanConvertTo(object sourceValue, Type destinationType) => false;

    public override object ConvertTo(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase) =>
        throw new PSInvalidCastException($"A CallEvent does not convert to {destinationType.Name}.");
}
