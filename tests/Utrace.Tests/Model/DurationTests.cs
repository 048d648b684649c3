using System.Globalization;
using Xunit;

namespace Utrace.Tests.Model;

public sealed class DurationTests
{
    [Theory]
    [InlineData("100ns", 100)]
    [InlineData("250us", 250_000)]
    [InlineData("250µs", 250_000)]
    [InlineData("1ms", 1_000_000)]
    [InlineData("1.5ms", 1_500_000)]
    [InlineData("2.5s", 2_500_000_000)]
    [InlineData(" 3 MS ", 3_000_000)]
    [InlineData("1m", 60_000_000_000)]
    [InlineData("1min", 60_000_000_000)]
    [InlineData("2h", 7_200_000_000_000)]
    [InlineData("00:00:01.5", 1_500_000_000)]
    [InlineData("0.000001ms", 1)]
    public void ParsesUnitsAndTimeSpans(string text, long nanoseconds) =>
        Assert.Equal(nanoseconds, Duration.Parse(text).Nanoseconds);

    [Theory]
    [InlineData("")]
    [InlineData("ms")]
    [InlineData("12 parsecs")]
    [InlineData("1..5ms")]
    [InlineData("99999999999999h")]
    [InlineData("250")]
    public void RejectsWhatIsNotADuration(string text)
    {
        Assert.False(Duration.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => Duration.Parse(text));
        Assert.Contains("250us", error.Message);
    }

    [Theory]
    [InlineData(0, "0 ns")]
    [InlineData(812, "812 ns")]
    [InlineData(999, "999 ns")]
    [InlineData(1_000, "1.000 us")]
    [InlineData(12_345, "12.345 us")]
    [InlineData(1_234_000, "1.234 ms")]
    [InlineData(2_500_000_000, "2.500 s")]
    public void PrintsWithAUnit(long nanoseconds, string text) =>
        Assert.Equal(text, Duration.FromNanoseconds(nanoseconds).ToString(null, CultureInfo.InvariantCulture));

    [Fact]
    public void ComparesWithDurationsTimeSpansAndStrings()
    {
        var d = Duration.Parse("1.5ms");
        Assert.True(d > Duration.Parse("1ms"));
        Assert.True(d < TimeSpan.FromMilliseconds(2));
        Assert.Equal(0, d.CompareTo((object)TimeSpan.FromTicks(15_000)));
        Assert.True(d.CompareTo("1ms") > 0);
        Assert.True(d.CompareTo(null) > 0);
        Assert.Throws<ArgumentException>(() => d.CompareTo(42));
    }

    [Fact]
    public void SortsByLength()
    {
        var sorted = new[] { "2s", "5ns", "3ms", "7us" }.Select(Duration.Parse).Order().Select(d => d.ToString(null, CultureInfo.InvariantCulture));
        Assert.Equal(["5 ns", "7.000 us", "3.000 ms", "2.000 s"], sorted);
    }

    [Fact]
    public void ConvertsToAndFromTimeSpan()
    {
        Duration fromSpan = TimeSpan.FromMilliseconds(3);
        Assert.Equal(3_000_000, fromSpan.Nanoseconds);
        Assert.Equal(TimeSpan.FromTicks(12), (TimeSpan)Duration.FromNanoseconds(1_250));
    }
}
