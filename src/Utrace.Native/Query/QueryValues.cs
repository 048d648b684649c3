using System.Data.Common;
using System.Numerics;
using DuckDB.NET.Native;

namespace Utrace.Native.Query;

/// <summary>
/// DuckDB's values as the .NET values a query's rows carry: BIGINT long, DOUBLE double, VARCHAR
/// string, TIMESTAMP and TIMESTAMPTZ DateTime (UTC), INTERVAL a Utrace Duration, HUGEINT (what
/// sum() of a BIGINT gives) long when it fits; the rest as DuckDB.NET reads them, NULL null.
/// </summary>
internal static class QueryValues
{
    private const long NanosecondsPerDay = 86_400_000_000_000L;

    /// <summary>The value in <paramref name="column"/> of the reader's current row, of DuckDB type <paramref name="duckDbType"/>.</summary>
    public static object? Read(DbDataReader reader, int column, string duckDbType)
    {
        if (reader.IsDBNull(column))
            return null;
        return duckDbType == "INTERVAL" ? FromInterval(reader.GetFieldValue<DuckDBInterval>(column)) : FromDuckDb(reader.GetValue(column));
    }

    /// <summary>A value DuckDB.NET read, as a query's rows carry it.</summary>
    public static object? FromDuckDb(object? value) => value switch
    {
        null or DBNull => null,
        BigInteger big when big >= long.MinValue && big <= long.MaxValue => (long)big,
        TimeSpan span => Duration.FromTimeSpan(span),
        // The session's time zone is UTC: a TIMESTAMPTZ is read in it, a TIMESTAMP is meant in it.
        DateTime time when time.Kind != DateTimeKind.Utc => DateTime.SpecifyKind(time, DateTimeKind.Utc),
        DateTimeOffset offset => offset.UtcDateTime,
        _ => value,
    };

    /// <summary>An INTERVAL as a Duration, a month counted as 30 days as DuckDB compares intervals.</summary>
    public static Duration FromInterval(DuckDBInterval interval) =>
        Duration.FromNanoseconds(checked((interval.Months * 30L + interval.Days) * NanosecondsPerDay + (long)interval.Micros * 1000L));
}
