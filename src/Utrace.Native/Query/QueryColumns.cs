using System.Text.Json;

namespace Utrace.Native.Query;

/// <summary>
/// The column names a query mentions, read from DuckDB's parse of it (json_serialize_sql), so that a
/// trace file is loaded with those columns only: a p99 per function reads 4 of a call's 12.
/// </summary>
internal static class QueryColumns
{
    /// <summary>
    /// The names of the columns <paramref name="parse"/> (json_serialize_sql's output) refers to, in any
    /// table; null when the query may read every column: a star, a table's columns renamed by position,
    /// or a statement that is not a SELECT (COPY ... TO). <paramref name="syntaxError"/> gets DuckDB's
    /// message when the query does not parse.
    /// </summary>
    public static IReadOnlySet<string>? Named(string parse, out string? syntaxError)
    {
        using var document = JsonDocument.Parse(parse);
        var root = document.RootElement;
        syntaxError = null;
        if (root.GetProperty("error").GetBoolean())
        {
            if (root.TryGetProperty("error_type", out var type) && type.GetString() == "parser")
                syntaxError = "Parser Error: " + root.GetProperty("error_message").GetString();
            return null;
        }
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        return Collect(root, names) ? names : null;
    }

    /// <summary>Adds the column names under <paramref name="node"/>; false when it reads every column.</summary>
    private static bool Collect(JsonElement node, HashSet<string> names)
    {
        switch (node.ValueKind)
        {
            case JsonValueKind.Object:
                if (node.TryGetProperty("class", out var kind) && kind.GetString() == "STAR")
                    return false;
                if (node.TryGetProperty("column_name_alias", out var aliases) && aliases.GetArrayLength() > 0)
                    return false;
                if (kind.ValueKind == JsonValueKind.String && kind.GetString() == "COLUMN_REF")
                    names.Add(node.GetProperty("column_names").EnumerateArray().Last().GetString()!);
                return node.EnumerateObject().All(property => Collect(property.Value, names));
            case JsonValueKind.Array:
                return node.EnumerateArray().All(item => Collect(item, names));
            default:
                return true;
        }
    }
}
