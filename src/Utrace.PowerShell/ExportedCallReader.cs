using System.Management.Automation;
using Utrace.Native.Recording;

namespace Utrace.PowerShell;

/// <summary>
/// Reads the rows of Export-Csv or Export-Clixml of CallEvents (strings, or deserialized property
/// bags) back into the engine's <see cref="ExportedCall"/>, exactly: the integer columns, never the
/// rounded text of Duration.
/// </summary>
internal static class ExportedCallReader
{
    /// <exception cref="FormatException">A row lacks a CallEvent property, or holds a value that is not one.</exception>
    public static ExportedCall Read(PSObject row, int rowNumber)
    {
        object Value(string name) => row.Properties[name]?.Value
            ?? throw new FormatException($"row {rowNumber} has no {name}, so it is not a CallEvent");
        T Number<T>(string name)
        {
            try
            {
                return (T)LanguagePrimitives.ConvertTo(Value(name), typeof(T), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (PSInvalidCastException ex)
            {
                throw new FormatException($"row {rowNumber}: {name} '{Value(name)}' is not a {typeof(T).Name}", ex);
            }
        }
        var caller = row.Properties["Caller"]?.Value?.ToString();
        // Exports from before Program existed lack it; a CSV holds $null as "".
        var program = row.Properties["Program"]?.Value?.ToString();
        return new ExportedCall(
            Value("Function").ToString()!, Value("Module").ToString()!, string.IsNullOrEmpty(caller) ? null : caller,
            Number<int>("ProcessId"), Number<int>("ThreadId"), Number<int>("Depth"),
            StartOf(Value("Start"), rowNumber), Number<long>("StartNs"), Number<long>("DurationNs"), Number<long>("SelfNs"),
            // A CSV holds "True"/"False", which PowerShell would take as two true strings.
            bool.Parse(Value("HasDuration").ToString()!),
            // Exports made before CallEvents had a ComputerName do not say.
            row.Properties["ComputerName"]?.Value?.ToString() ?? "",
            string.IsNullOrEmpty(program) ? null : program);
    }

    /// <exception cref="FormatException"><paramref name="start"/> is not a time.</exception>
    internal static long StartOf(object start, int rowNumber) => start switch
    {
        Timestamp t => t.UnixNanoseconds,
        PSObject { BaseObject: Timestamp t } => t.UnixNanoseconds,
        // Export-Clixml keeps a Timestamp's properties.
        PSObject bag when bag.Properties["UnixNanoseconds"]?.Value is { } ns => LanguagePrimitives.ConvertTo<long>(ns),
        _ => Timestamp.TryParse(start.ToString(), out var parsed)
            ? parsed.UnixNanoseconds
            : throw new FormatException($"row {rowNumber}: Start '{start}' is not a time"),
    };
}
