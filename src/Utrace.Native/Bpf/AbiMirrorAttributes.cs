namespace Utrace.Native.Bpf;

// Links the C# mirrors in Abi.cs to what they mirror in bpf/utrace.h, so AbiLayoutTests can find every pair
// without a list of its own that could fall behind the header.

/// <summary>The type mirrors <c>struct</c> (or <c>union</c>) <see cref="CName"/> of bpf/utrace.h, field by field.</summary>
[AttributeUsage(AttributeTargets.Struct, Inherited = false)]
internal sealed class AbiStructAttribute(string cName) : Attribute
{
    public string CName { get; } = cName;
}

/// <summary>The field mirrors the C field <see cref="CName"/>; without it, the C name is the field's name in snake_case.</summary>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
internal sealed class AbiFieldAttribute(string cName) : Attribute
{
    public string CName { get; } = cName;
}

/// <summary>The constant (or enum member) mirrors the <c>#define</c> or enumerator <see cref="CName"/> of bpf/utrace.h.</summary>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
internal sealed class AbiConstantAttribute(string cName) : Attribute
{
    public string CName { get; } = cName;
}

/// <summary>
/// The property holds the counter <see cref="CName"/> of <c>struct utrace_stats</c>, summed over the CPUs; the
/// engine reads it at byte <see cref="Offset"/> of the map's value, which AbiLayoutTests checks against the header.
/// A counter marked <see cref="Dropped"/> counts calls that matched but were not reported (TraceSummary.EventsDropped).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
internal sealed class KernelCounterAttribute(string cName, int offset) : Attribute
{
    /// <summary>The struct whose every field a property claims this way.</summary>
    public const string CStruct = "utrace_stats";

    public string CName { get; } = cName;
    public int Offset { get; } = offset;
    public bool Dropped { get; set; }
}
