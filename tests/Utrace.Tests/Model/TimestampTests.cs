using Xunit;

namespace Utrace.Tests.Model;

public sealed class TimestampTests
{
    // The oracle for the whole seconds is DateTimeOffset; the digits past them are the nanoseconds.
    [Theory]
    [InlineData("2026-11-27T03:49:37.123456789+00:00", "2026-11-27T03:49:37+00:00", 123_456_789)]
    [InlineData("2026-11-27T05:49:37.000000001+02:00", "2026-11-27T05:49:37+02:00", 1)]
    [InlineData("2026-11-27T03:49:37.5Z", "2026-11-27T03:49:37Z", 500_000_000)]
    [InlineData("1969-12-31T23:59:59.999999999+00:00", "1969-12-31T23:59:59+00:00", 999_999_999)]
    public void ParsesNineFractionalDigits(string text, string wholeSeconds, long fractionNs)
    {
        var expected = DateTimeOffset.Parse(wholeSeconds, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds() * 1_000_000_000 + fractionNs;
        Assert.Equal(expected, Timestamp.Parse(text).UnixNanoseconds);
    }

    [Theory]
    [InlineData(1_795_751_377_123_456_789)]
    [InlineData(1_795_751_377_000_000_000)]
    [InlineData(-1)]
    public void PrintsWhatItParses(long unixNs)
    {
        var time = Timestamp.FromUnixNanoseconds(unixNs);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d$", time.ToString());
        Assert.Equal(time, Timestamp.Parse(time.ToString()));
    }

    [Fact]
    public void ComparesWithDateTimesAndStrings()
    {
        var time = Timestamp.FromDateTime(new DateTime(2026, 11, 27, 3, 49, 37, DateTimeKind.Utc)) + Duration.FromNanoseconds(50);
        Assert.True(time.CompareTo(new DateTime(2026, 11, 27, 3, 49, 37, DateTimeKind.Utc)) > 0);
        Assert.True(time.CompareTo("2026-11-27T03:49:37.000000051Z") < 0);
        Assert.Equal(50, (time - Timestamp.FromDateTime(new DateTime(2026, 11, 27, 3, 49, 37, DateTimeKind.Utc))).Nanoseconds);
    }
}
