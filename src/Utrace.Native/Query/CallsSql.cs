using System.Globalization;

namespace Utrace.Native.Query;

/// <summary>
/// The SQL that shows one trace file as rows of the <c>calls</c> view, with the column names of trace
/// file format 2 (docs/trace-format.md): a format 2 file or a Parquet export has them already; a
/// format 1 file gets its name columns from its function table, its wall-clock start from its clock
/// anchor and its own durations from its probe costs, as Import-UTrace computes them.
/// </summary>
internal static class CallsSql
{
    /// <summary>A format 2 file or a Parquet export: its columns as they are.</summary>
    public static string AsIs(string table) => $"SELECT * FROM {table}";

    /// <summary>
    /// A format 1 file loaded into <paramref name="table"/> (its columns <paramref name="columns"/>), its
    /// function table in <paramref name="functions"/> (function_id, name, module, program).
    /// <paramref name="unixNsAtMonotonicZero"/> turns start_ns into wall-clock time.
    /// </summary>
    public static string FromFormat1(string table, string functions, IReadOnlySet<string> columns, long unixNsAtMonotonicZero, string host)
    {
        // Before 1.2 every call was timed; before 1.3 no probe cost was taken out, nor calls inside counted.
        var entryOnly = columns.Contains("kind") ? "r.kind = 1" : "false";
        var cost = columns.Contains("probe_cost_ns") ? "r.probe_cost_ns" : "0::BIGINT";
        var selfCost = columns.Contains("self_probe_cost_ns") ? "r.self_probe_cost_ns" : "0::BIGINT";
        var callsInside = columns.Contains("calls_inside") ? "r.calls_inside" : "NULL::INTEGER";
        var duration = $"greatest(r.duration_ns - {cost}, 0)";
        string Timed(string value) => $"CASE WHEN {entryOnly} THEN NULL ELSE {value} END";
        List<string> select =
        [
            "f.name AS function",
            "f.module AS module",
            "f.program AS program",
            "c.name AS caller",
            $"{Literal(host)} AS host",
            "r.function_id",
            "r.caller_id",
            "r.pid",
            "r.tid",
            "r.depth",
            $"make_timestamp_ns({unixNsAtMonotonicZero.ToString(CultureInfo.InvariantCulture)} + CAST(r.start_ns AS BIGINT))::TIMESTAMPTZ AS start",
            "r.start_ns",
            $"CASE WHEN {entryOnly} THEN 'entry_only' ELSE 'timed' END AS kind",
            $"{Timed(duration)} AS duration",
            $"{Timed($"least({duration}, greatest(r.self_ns - {selfCost}, 0))")} AS self_duration",
            $"{Timed("r.duration_ns")} AS raw_duration",
            $"{Timed("r.self_ns")} AS raw_self_duration",
            $"{Timed(cost)} AS probe_cost",
            $"{callsInside} AS calls_inside",
        ];
        select.AddRange(new[] { "arguments", "argument_strings", "return_value" }.Where(columns.Contains).Select(column => "r." + column));
        return $"SELECT {string.Join(", ", select)} FROM {table} r JOIN {functions} f ON f.function_id = r.function_id " +
            $"LEFT JOIN {functions} c ON c.function_id = r.caller_id";
    }

    /// <summary><paramref name="text"/> as a SQL string literal.</summary>
    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
