using System.Numerics;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using DuckDB.NET.Native;
using Utrace.Native.Query;
using Utrace.Tests.Recording;
using Xunit;

namespace Utrace.Tests.Query;

public sealed class TraceQueryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("utrace-query-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void ShowsAFormat1FileWithTheNamesOfItsFunctionTable()
    {
        var path = Path.Combine(_directory, "synthetic.arrow");
        SyntheticTrace.Write(path, 1_000).Dispose();
        using var query = new TraceQuery("SELECT function, module, caller, host, tid, depth, start, duration, self_duration, raw_duration, kind FROM calls ORDER BY start_ns");
        Assert.Equal((1_000L, false), query.Add(path));
        var rows = Run(query);
        using var file = TraceFile.Open(path);
        var expected = file.ReadEvents().OrderBy(e => e.StartNs).Select(e => new object?[]
        {
            e.Function, e.Module, e.Caller, "testhost", e.ThreadId, e.Depth,
            DateTime.UnixEpoch.AddTicks(e.Start.UnixNanoseconds / 1_000 * 10), e.DurationNs, e.SelfNs, e.RawDurationNs, "timed",
        });
        Assert.Equal(expected, rows);
    }

    [Fact]
    public void ReadsAFormat10FileAsTimedCallsWithNoProbeCost()
    {
        using var query = new TraceQuery("SELECT kind, count(*), sum(probe_cost), count(calls_inside), bool_and(duration = raw_duration) FROM calls GROUP BY kind");
        query.Add(RepoPaths.File("tests/fixtures/traces/fib5-format-1.0.arrow"));
        var rows = Run(query);
        Assert.Equal([new object?[] { "timed", 16L, 0L, 0L, true }], rows);
    }

    [Fact]
    public async Task HandsDurationColumnsToDuckDbAsNanoseconds()
    {
        var path = Path.Combine(_directory, "durations.arrows");
        var schema = new Schema([new Field("duration", DurationType.Nanosecond, nullable: true)], null);
        using (var stream = File.Create(path))
        using (var writer = new ArrowStreamWriter(stream, schema))
        {
            var durations = new DurationArray.Builder(DurationType.Nanosecond).Append(1_234L).AppendNull().Append(5L).Build();
            writer.WriteRecordBatch(new RecordBatch(schema, [durations], 3));
            writer.WriteEnd();
        }
        using var batches = new TraceBatchStream(path);
        Assert.Equal(ArrowTypeId.Int64, batches.Schema.GetFieldByName("duration").DataType.TypeId);
        var batch = (await batches.ReadNextRecordBatchAsync())!;
        var column = Assert.IsType<Int64Array>(batch.Column(0));
        Assert.Equal([1_234L, null, 5L], column.ToArray());
        Assert.Null(await batches.ReadNextRecordBatchAsync());
        Assert.Equal(3, batches.Rows);
        Assert.False(batches.WasCut);
    }

    [Fact]
    public void MapsDuckDbValuesToTheirDotNetTypes()
    {
        Assert.Equal(Duration.FromNanoseconds(((30L + 2) * 86_400_000_000L + 3) * 1_000),
            QueryValues.FromInterval(new DuckDBInterval(1, 2, 3)));
        Assert.Equal(42L, QueryValues.FromDuckDb(new BigInteger(42)));
        var huge = BigInteger.Pow(2, 70);
        Assert.Equal(huge, QueryValues.FromDuckDb(huge));
        Assert.Equal(Duration.FromNanoseconds(1_500_000), QueryValues.FromDuckDb(TimeSpan.FromMilliseconds(1.5)));
        var utc = Assert.IsType<DateTime>(QueryValues.FromDuckDb(new DateTime(2026, 12, 7, 23, 0, 0, DateTimeKind.Unspecified)));
        Assert.Equal(DateTimeKind.Utc, utc.Kind);
        Assert.Null(QueryValues.FromDuckDb(DBNull.Value));
        Assert.Equal("x", QueryValues.FromDuckDb("x"));
    }

    [Fact]
    public void GivesEveryColumnADistinctName() =>
        Assert.Equal(["a", "A_1", "a_2", "b"], TraceQuery.UniqueNames(["a", "A", "a", "b"]));

    [Theory]
    [InlineData("SELECT function, quantile_disc(duration, 0.99) FROM calls GROUP BY ALL", "duration,function")]
    [InlineData("SELECT count(*) FROM calls c WHERE c.depth = 0", "depth")]
    [InlineData("WITH t AS (SELECT tid FROM calls) SELECT count(*) FROM t", "tid")]
    [InlineData("SELECT * FROM calls", null)]
    [InlineData("SELECT x FROM calls AS t(x)", null)]
    [InlineData("SELECT COLUMNS('dur.*') FROM calls", null)]
    [InlineData("COPY (SELECT function FROM calls) TO 'x.parquet'", null)]
    public void LoadsTheColumnsAQueryNames(string sql, string? names)
    {
        var named = QueryColumns.Named(Serialized(sql), out var syntaxError);
        Assert.Null(syntaxError);
        Assert.Equal(names, named is null ? null : string.Join(",", named.Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void RefusesAQueryThatDoesNotParseBeforeLoadingAnything()
    {
        var error = Assert.Throws<UtraceException>(() => new TraceQuery("SELEC 1"));
        Assert.Equal("QuerySyntaxError", error.ErrorId);
        Assert.Equal("Parser Error: syntax error at or near \"SELEC\"", error.Message);
    }

    [Fact]
    public void GivesTheSameRowsWhateverColumnsAreLoaded()
    {
        var path = Path.Combine(_directory, "synthetic.arrow");
        SyntheticTrace.Write(path, 500).Dispose();
        List<object?[]> Rows(string sql)
        {
            using var query = new TraceQuery(sql);
            query.Add(path);
            return Run(query);
        }
        var all = Rows("SELECT * FROM calls ORDER BY start_ns");
        var some = Rows("SELECT caller, start, self_duration FROM calls ORDER BY start_ns");
        Assert.Equal(all.Select(row => new[] { row[3], row[10], row[14] }), some);
        Assert.Equal([new object?[] { 500L }], Rows("SELECT count(*) FROM calls"));
    }

    private static string Serialized(string sql)
    {
        using var connection = new DuckDB.NET.Data.DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT json_serialize_sql({CallsSql.Literal(sql)})";
        return (string)command.ExecuteScalar()!;
    }

    private static List<object?[]> Run(TraceQuery query) => query.Run(_ => { }).ToList();
}
