using System.Globalization;
using System.Text.RegularExpressions;

namespace Utrace;

/// <summary>
/// A wall-clock instant with nanosecond precision (DateTime's 100 ns tick is too coarse for
/// function calls). Prints as ISO 8601 local time with nine fractional digits and the offset
/// ("2026-11-27T03:49:37.123456789+00:00"), so a CSV or any other text export keeps every
/// nanosecond and parses back; compares with DateTimes, DateTimeOffsets and such strings.
/// </summary>
public readonly partial struct Timestamp : IComparable, IComparable<Timestamp>, IEquatable<Timestamp>, IFormattable
{
    private Timestamp(long unixNanoseconds) => UnixNanoseconds = unixNanoseconds;

    /// <summary>Nanoseconds since 1970-01-01T00:00:00Z.</summary>
    public long UnixNanoseconds { get; }

    /// <summary>The instant as a local DateTime (to the 100 ns tick).</summary>
    public DateTime LocalDateTime => UtcDateTime.ToLocalTime();

    /// <summary>The instant as a UTC DateTime (to the 100 ns tick).</summary>
    public DateTime UtcDateTime => DateTime.UnixEpoch.AddTicks(Math.DivRem(UnixNanoseconds, 100, out var rest) - (rest < 0 ? 1 : 0));

    public static Timestamp FromUnixNanoseconds(long unixNanoseconds) => new(unixNanoseconds);

    public static Timestamp FromDateTime(DateTime time) => new((time.ToUniversalTime() - DateTime.UnixEpoch).Ticks * 100);

    public static implicit operator Timestamp(DateTime time) => FromDateTime(time);

    public static implicit operator Timestamp(DateTimeOffset time) => FromDateTime(time.UtcDateTime);

    /// <summary>The time in UTC, to the 100 ns tick (<c>[datetime]$call.Start</c>); explicit because it drops the last digits.</summary>
    public static explicit operator DateTime(Timestamp time) => time.UtcDateTime;

    /// <summary>The time at offset 0, to the 100 ns tick (<c>[DateTimeOffset]$call.Start</c>).</summary>
    public static explicit operator DateTimeOffset(Timestamp time) => new(time.UtcDateTime);

    public static Timestamp operator +(Timestamp time, Duration span) => new(time.UnixNanoseconds + span.Nanoseconds);

    public static Duration operator -(Timestamp end, Timestamp start) => Duration.FromNanoseconds(end.UnixNanoseconds - start.UnixNanoseconds);

    /// <summary>Parses what <see cref="ToString()"/> writes, and any date DateTimeOffset parses (to its tick).</summary>
    public static Timestamp Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var time)
            ? time
            : throw new FormatException($"'{text}' is not a time. Write it as ISO 8601, such as 2026-11-27T03:49:37.123456789+00:00.");
    }

    public static bool TryParse(string? text, out Timestamp time)
    {
        time = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        // DateTimeOffset stops at 7 fractional digits: parse the digits past them here.
        var match = NanosecondForm().Match(text.Trim());
        if (match.Success && DateTimeOffset.TryParse(match.Groups["date"].Value + match.Groups["offset"].Value,
                CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var whole))
        {
            var fraction = long.Parse(match.Groups["fraction"].Value.PadRight(9, '0'), CultureInfo.InvariantCulture);
            time = new((whole.UtcDateTime - DateTime.UnixEpoch).Ticks * 100 + fraction);
            return true;
        }
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var parsed))
            return false;
        time = FromDateTime(parsed.UtcDateTime);
        return true;
    }

    public int CompareTo(Timestamp other) => UnixNanoseconds.CompareTo(other.UnixNanoseconds);

    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        Timestamp t => CompareTo(t),
        DateTime d => CompareTo(FromDateTime(d)),
        DateTimeOffset o => CompareTo(FromDateTime(o.UtcDateTime)),
        string s => CompareTo(Parse(s)),
        _ => throw new ArgumentException($"A Timestamp cannot be compared with a {obj.GetType().Name}.", nameof(obj)),
    };

    public bool Equals(Timestamp other) => UnixNanoseconds == other.UnixNanoseconds;
    public override bool Equals(object? obj) => obj is Timestamp other && Equals(other);
    public override int GetHashCode() => UnixNanoseconds.GetHashCode();

    public static bool operator ==(Timestamp left, Timestamp right) => left.Equals(right);
    public static bool operator !=(Timestamp left, Timestamp right) => !left.Equals(right);
    public static bool operator <(Timestamp left, Timestamp right) => left.UnixNanoseconds < right.UnixNanoseconds;
    public static bool operator >(Timestamp left, Timestamp right) => left.UnixNanoseconds > right.UnixNanoseconds;
    public static bool operator <=(Timestamp left, Timestamp right) => left.UnixNanoseconds <= right.UnixNanoseconds;
    public static bool operator >=(Timestamp left, Timestamp right) => left.UnixNanoseconds >= right.UnixNanoseconds;

    /// <summary>Local time, ISO 8601, nine fractional digits and the UTC offset.</summary>
    public override string ToString() => ToString(null, CultureInfo.InvariantCulture);

    public string ToString(string? format, IFormatProvider? provider)
    {
        var wholeSeconds = Math.DivRem(UnixNanoseconds, 1_000_000_000, out var fraction);
        if (fraction < 0)
            (wholeSeconds, fraction) = (wholeSeconds - 1, fraction + 1_000_000_000);
        var seconds = DateTimeOffset.FromUnixTimeSeconds(wholeSeconds).ToLocalTime();
        return string.Create(CultureInfo.InvariantCulture, $"{seconds:yyyy'-'MM'-'dd'T'HH':'mm':'ss}.{fraction:000000000}{seconds:zzz}");
    }

    [GeneratedRegex(@"^(?<date>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(?<fraction>\d{1,9})(?<offset>Z|[+-]\d\d:\d\d)?$")]
    private static partial Regex NanosecondForm();
}
