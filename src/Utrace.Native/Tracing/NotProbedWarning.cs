namespace Utrace.Native.Tracing;

/// <summary>The warning that names the selected functions the kernel cannot probe, which are therefore not traced.</summary>
internal static class NotProbedWarning
{
    /// <summary>How many functions one warning names; the others are counted or left out.</summary>
    private const int Named = 10;

    /// <summary>Of the first program: each function with the reason, by id (<paramref name="leftOut"/> maps id to reason); null if none.</summary>
    public static string? For(IReadOnlyDictionary<int, string> leftOut, IReadOnlyList<FunctionInfo> functions)
    {
        if (leftOut.Count == 0)
            return null;
        var named = leftOut.OrderBy(f => f.Key).Take(Named).Select(f => $"{functions[f.Key].Name} ({f.Value})");
        var more = leftOut.Count > Named ? $", and {leftOut.Count - Named} more" : "";
        return $"{leftOut.Count} function(s) cannot be probed and are not traced: {string.Join("; ", named)}{more}.";
    }

    /// <summary>Of <paramref name="program"/>, which a followed process ran or mapped later: the names alone; null if none.</summary>
    public static string? For(string program, IReadOnlyList<string> names) => names.Count == 0
        ? null
        : $"{names.Count} function(s) of {program} cannot be probed and are not traced: {string.Join(", ", names.Take(Named))}.";
}
