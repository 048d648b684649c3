using System.Globalization;
using System.Management.Automation;

namespace Utrace.PowerShell;

/// <summary>
/// The Duration and SelfDuration of a deserialized CallEvent (Utrace.types.ps1xml), made from the
/// exact DurationNs and SelfNs that crossed the wire: so that over SSH remoting, where PowerShell
/// does not rehydrate, they still sort, compare with '1ms' and sum with Measure-Object.
/// </summary>
public static class DeserializedCallEvent
{
    public static Duration Duration(PSObject instance) => Nanoseconds(instance, "DurationNs");

    public static Duration SelfDuration(PSObject instance) => Nanoseconds(instance, "SelfNs");

    private static Duration Nanoseconds(PSObject instance, string property) =>
        Utrace.Duration.FromNanoseconds(Convert.ToInt64(instance.Properties[property]?.Value ?? 0L, CultureInfo.InvariantCulture));
}
