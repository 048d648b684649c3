using System.Globalization;

namespace Utrace;

/// <summary>
/// A span of time with nanosecond precision (TimeSpan's 100 ns tick is too coarse for function calls).
/// Parses "1ms", "250us", "2.5s", "100ns" and TimeSpan strings, converts from TimeSpan, compares and
/// sorts, and prints as "1.234 ms" or "812 ns", so <c>Where-Object Duration -gt 1ms</c> works.
/// </summary>
public readonly struct Duration : IComparable, IComparable<Duration>, IEquatable<Duration>, IFormattable
{
    private static readonly (string Suffix, long Nanoseconds)[] Units =
    [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("min", 60_000_000_000), ("h", 3_600_000_000_000),
    ];

    // Not public: PowerShell would use a public constructor to turn any number into a Duration,
    // reading `250us` (a UInt16 to PowerShell) as 250 ns. Use FromNanoseconds.
    private Duration(long nanoseconds) => Nanoseconds = nanoseconds;

    public long Nanoseconds { get; }

    public double TotalMicroseconds => Nanoseconds / 1e3;
    public double TotalMilliseconds => Nanoseconds / 1e6;
    public double TotalSeconds => Nanoseconds / 1e9;

    public static Duration FromNanoseconds(long nanoseconds) => new(nanoseconds);

    public static Duration FromTimeSpan(TimeSpan span) => new(checked(span.Ticks * 100));

    public TimeSpan ToTimeSpan() => TimeSpan.FromTicks(Nanoseconds / 100);

    public static implicit operator Duration(TimeSpan span) => FromTimeSpan(span);

    public static explicit operator TimeSpan(Duration duration) => duration.ToTimeSpan();

    /// <summary>Nanoseconds: what Measure-Object -Sum, -Average, -Minimum and -Maximum take from a Duration.</summary>
    public static explicit operator double(Duration duration) => duration.Nanoseconds;

    /// <summary>Parses a number with a unit (ns, us, µs, ms, s, m, min, h) or a TimeSpan string ("00:00:01.5").</summary>
    public static Duration Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var duration)
            ? duration
            : throw new FormatException($"'{text}' is not a duration. Write a number and a unit, such as 100ns, 250us, 1.5ms, 2s or 1m, or a TimeSpan such as 00:00:01.");
    }

    public static bool TryParse(string? text, out Duration duration)
    {
        duration = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var s = text.Trim();
        var unitStart = s.Length;
        while (unitStart > 0 && char.IsLetter(s[unitStart - 1]))
            unitStart--;
        var unit = s[unitStart..];
        var number = s[..unitStart].Trim();
        if (unit.Length == 0)
        {
            // A bare number has no unit to go by; only the TimeSpan form (with colons) is taken.
            if (s.Contains(':') && TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var span))
            {
                duration = span;
                return true;
            }
            return false;
        }
        foreach (var (suffix, scale) in Units)
        {
            if (!unit.Equals(suffix, StringComparison.OrdinalIgnoreCase))
                continue;
            if (!decimal.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                return false;
            try
            {
                duration = new Duration(checked((long)Math.Round(value * scale)));
                return true;
            }
            catch (OverflowException)
            {
                return false;
            }
        }
        return false;
    }

    public int CompareTo(Duration other) => Nanoseconds.CompareTo(other.Nanoseconds);

    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        Duration d => CompareTo(d),
        TimeSpan t => CompareTo(FromTimeSpan(t)),
        string s => CompareTo(Parse(s)),
        _ => throw new ArgumentException($"A Duration cannot be compared with a {obj.GetType().Name}.", nameof(obj)),
    };

    public bool Equals(Duration other) => Nanoseconds == other.Nanoseconds;
    public override bool Equals(object? obj) => obj is Duration other && Equals(other);
    public override int GetHashCode() => Nanoseconds.GetHashCode();

    public static bool operator ==(Duration left, Duration right) => left.Equals(right);
    public static bool operator !=(Duration left, Duration right) => !left.Equals(right);
    public static bool operator <(Duration left, Duration right) => left.Nanoseconds < right.Nanoseconds;
    public static bool operator >(Duration left, Duration right) => left.Nanoseconds > right.Nanoseconds;
    public static bool operator <=(Duration left, Duration right) => left.Nanoseconds <= right.Nanoseconds;
    public static bool operator >=(Duration left, Duration right) => left.Nanoseconds >= right.Nanoseconds;
    public static Duration operator +(Duration left, Duration right) => new(left.Nanoseconds + right.Nanoseconds);
    public static Duration operator -(Duration left, Duration right) => new(left.Nanoseconds - right.Nanoseconds);

    /// <summary>"812 ns", "12.345 us", "1.234 ms", "2.500 s": three decimals past the nanosecond range.</summary>
    public override string ToString() => ToString(null, CultureInfo.CurrentCulture);

    public string ToString(string? format, IFormatProvider? provider)
    {
        var ns = Nanoseconds;
        var magnitude = Math.Abs(ns);
        if (magnitude < 1_000)
            return string.Create(provider, $"{ns} ns");
        var (scale, unit) = magnitude switch
        {
            < 1_000_000 => (1e3, "us"),
            < 1_000_000_000 => (1e6, "ms"),
            _ => (1e9, "s"),
        };
        return string.Create(provider, $"{(ns / scale).ToString(format ?? "0.000", provider)} {unit}");
    }
}
