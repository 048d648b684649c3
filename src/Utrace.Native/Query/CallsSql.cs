using System.Globalization;

namespace Utrace.Native.Query;

/// <summary>
/// The SQL that shows one trace file as rows of the <c>calls</c> view, with the column names of trace
/// file format 2 (docs/trace-format.md): a format 2 file or a Parquet export has them already; a
/// format 1 file gets its name columns from its function table, its wall-clock start from its clock
/// anchor and its own durations from its probe costs, as Import-UTrace computes them. Only the columns
/// a query names are made (all when it names none in particular), from only the file columns they need.
/// </summary>
internal static class CallsSql
{
    // Always in the view, so that a query that names no column (count(*)) still counts rows.
    private const string RowColumn = "function_id";

    /// <summary>A format 2 file: its columns as they are, and those of them to load.</summary>
    public static (string Sql, IReadOnlySet<string> Load) AsIs(string table, IReadOnlySet<string> fileColumns, IReadOnlySet<string>? wanted) =>
        ($"SELECT * FROM {table}", wanted is null ? fileColumns : fileColumns.Where(c => wanted.Contains(c) || c == RowColumn).ToHashSet());

    /// <summary>
    /// A format 1 file loaded into <paramref name="table"/> (its columns <paramref name="fileColumns"/>), its
    /// function table in <paramref name="functions"/> (function_id, name, module, program): the view's SQL
    /// for the <paramref name="wanted"/> columns (null: all), and the file columns it reads.
    /// <paramref name="unixNsAtMonotonicZero"/> turns start_ns into wall-clock time.
    /// </summary>
    public static (string Sql, IReadOnlySet<string> Load) FromFormat1(string table, string functions, IReadOnlySet<string> fileColumns,
        IReadOnlySet<string>? wanted, long unixNsAtMonotonicZero, string host)
    {
        // Before 1.2 every call was timed; before 1.3 no probe cost was taken out, nor calls inside counted; before 1.4 no on-CPU time.
        var hasKind = fileColumns.Contains("kind");
        var hasCosts = fileColumns.Contains("probe_cost_ns");
        var hasOnCpu = fileColumns.Contains("on_cpu_ns");
        var entryOnly = hasKind ? "r.kind = 1" : "false";
        var cost = hasCosts ? "r.probe_cost_ns" : "0::BIGINT";
        var selfCost = hasCosts ? "r.self_probe_cost_ns" : "0::BIGINT";
        var duration = $"greatest(r.duration_ns - {cost}, 0)";
        string Timed(string value) => $"CASE WHEN {entryOnly} THEN NULL ELSE {value} END";
        string[] kind = hasKind ? ["kind"] : [];
        string[] costs = hasCosts ? ["probe_cost_ns"] : [];
        string[] selfCosts = hasCosts ? ["probe_cost_ns", "self_probe_cost_ns"] : [];
        // Each column of the view: its expression, and the file columns it reads.
        List<(string Name, string Expression, string[] Reads)> columns =
        [
            ("function", "f.name", ["function_id"]),
            ("module", "f.module", ["function_id"]),
            ("program", "f.program", ["function_id"]),
            ("caller", "c.name", ["caller_id"]),
            ("host", Literal(host), []),
            ("function_id", "r.function_id", ["function_id"]),
            ("caller_id", "r.caller_id", ["caller_id"]),
            ("pid", "r.pid", ["pid"]),
            ("tid", "r.tid", ["tid"]),
            ("depth", "r.depth", ["depth"]),
            ("start", $"make_timestamp_ns({unixNsAtMonotonicZero.ToString(CultureInfo.InvariantCulture)} + CAST(r.start_ns AS BIGINT))::TIMESTAMPTZ", ["start_ns"]),
            ("start_ns", "r.start_ns", ["start_ns"]),
            ("kind", $"CASE WHEN {entryOnly} THEN 'entry_only' ELSE 'timed' END", kind),
            ("duration", Timed(duration), ["duration_ns", .. costs, .. kind]),
            ("self_duration", Timed($"least({duration}, greatest(r.self_ns - {selfCost}, 0))"), ["duration_ns", "self_ns", .. selfCosts, .. kind]),
            ("raw_duration", Timed("r.duration_ns"), ["duration_ns", .. kind]),
            ("raw_self_duration", Timed("r.self_ns"), ["self_ns", .. kind]),
            ("probe_cost", Timed(cost), [.. costs, .. kind]),
            ("self_probe_cost", Timed(selfCost), [.. selfCosts.Skip(1), .. kind]),
            ("calls_inside", fileColumns.Contains("calls_inside") ? "r.calls_inside" : "NULL::INTEGER", fileColumns.Contains("calls_inside") ? ["calls_inside"] : []),
            // As TracedCall.OnCpuNs: the measured on-CPU time (1.4) less the probes' cost, within [0, duration].
            ("on_cpu", hasOnCpu ? Timed($"least({duration}, greatest(r.on_cpu_ns - {cost}, 0))") : "NULL::BIGINT", hasOnCpu ? ["on_cpu_ns", "duration_ns", .. costs, .. kind] : []),
            ("raw_on_cpu", hasOnCpu ? Timed("r.on_cpu_ns") : "NULL::BIGINT", hasOnCpu ? ["on_cpu_ns", .. kind] : []),
        ];
        columns.AddRange(new[] { "arguments", "argument_strings", "return_value" }.Where(fileColumns.Contains).Select(c => (c, "r." + c, new[] { c })));
        var chosen = columns.Where(c => wanted is null || wanted.Contains(c.Name) || c.Name == RowColumn).ToList();
        var joins = "";
        if (chosen.Any(c => c.Expression.StartsWith("f.", StringComparison.Ordinal)))
            joins += $" JOIN {functions} f ON f.function_id = r.function_id";
        if (chosen.Any(c => c.Expression.StartsWith("c.", StringComparison.Ordinal)))
            joins += $" LEFT JOIN {functions} c ON c.function_id = r.caller_id";
        var sql = $"SELECT {string.Join(", ", chosen.Select(c => $"{c.Expression} AS {c.Name}"))} FROM {table} r{joins}";
        return (sql, chosen.SelectMany(c => c.Reads).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary><paramref name="text"/> as a SQL string literal.</summary>
    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
