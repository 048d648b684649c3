using System.Management.Automation;

namespace Utrace.PowerShell;

/// <summary>
/// Refuses a bare number given to a Duration parameter. PowerShell reads `0.5s` unquoted as the
/// Int16 0 and `2.5us` as the UInt16 2 (its own type suffixes, rounded), so a number that reaches
/// a parameter cannot be trusted to mean what was typed: only a string with a unit, a TimeSpan or
/// a Duration is taken. A negative one is refused too: no call lasts less than nothing.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DurationArgumentAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal or System.Numerics.BigInteger)
            throw new ArgumentTransformationMetadataException(
                $"{value} is a bare number, and a duration needs a unit. Quote it with its unit: '500ms', '250us', '2.5s' " +
                "(unquoted, PowerShell reads 0.5s as the integer 0 and 250us as the integer 250, before Utrace sees them).");
        var duration = LanguagePrimitives.ConvertTo<Duration>(inputData);
        if (duration.Nanoseconds < 0)
            throw new ArgumentTransformationMetadataException(
                $"{duration} is negative, and a duration cannot be. Give a positive one such as '1ms', or '0s' to keep every call.");
        return duration;
    }
}
