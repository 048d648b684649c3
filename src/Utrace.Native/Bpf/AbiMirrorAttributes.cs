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
