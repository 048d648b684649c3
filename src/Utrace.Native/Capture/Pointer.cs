using System.Globalization;

namespace Utrace;

/// <summary>
/// A captured address: compares and converts like the number, prints in hex (0x7ffc1234abcd);
/// ConvertTo-Json writes it as {"Address": n}.
/// </summary>
public readonly record struct Pointer(ulong Address) : IComparable<Pointer>, IFormattable
{
    public int CompareTo(Pointer other) => Address.CompareTo(other.Address);

    public static implicit operator ulong(Pointer pointer) => pointer.Address;

    public override string ToString() => "0x" + Address.ToString("x", CultureInfo.InvariantCulture);

    public string ToString(string? format, IFormatProvider? formatProvider) =>
        string.IsNullOrEmpty(format) ? ToString() : Address.ToString(format, formatProvider);
}
