using System.Globalization;
using System.Management.Automation;
using Utrace.Native.Recording;

namespace Utrace.PowerShell;

/// <summary>
/// The one reader of objects with a CallEvent's properties (a row of Export-Csv, a CallEvent
/// deserialized by Import-Clixml or remoting) back into a CallEvent, exactly: the integer columns,
/// never the rounded text of Duration. It needs what the reports need; the rest (Start, HasDuration,
/// Caller, ComputerName, Program) is read when there, as exports made before it existed lack it.
/// </summary>
internal static class CallPropertyReader
{
    /// <exception cref="FormatException">The bag lacks a needed property, or holds a value that is not one; the message names <paramref name="which"/> ("row 3").</exception>
    public static CallEvent Read(PSObject bag, string which, ImportedCallTable table)
    {
        object Value(string name) => bag.Properties[name]?.Value
            ?? throw new FormatException($"{which} has no {name} property");
        T Number<T>(string name)
        {
            try
            {
                return (T)LanguagePrimitives.ConvertTo(Value(name), typeof(T), CultureInfo.InvariantCulture);
            }
            catch (PSInvalidCastException ex)
            {
                throw new FormatException($"{which}: {name} '{Value(name)}' is not a {typeof(T).Name}", ex);
            }
        }
        string? Text(string name) => bag.Properties[name]?.Value?.ToString() is { Length: > 0 } text ? text : null;   // a CSV holds $null as ""
        var function = Value("Function").ToString()!;
        var module = Value("Module").ToString()!;
        var processId = Number<int>("ProcessId");
        var threadId = Number<int>("ThreadId");
        var depth = Number<int>("Depth");
        var startNs = Number<long>("StartNs");
        var durationNs = Number<long>("DurationNs");
        var selfNs = Number<long>("SelfNs");
        // An export of calls with probe costs keeps the measured times and the cost (older ones hold the measured times only).
        var probes = default(ProbeAccount);
        if (bag.Properties["RawDurationNs"] is not null && bag.Properties["RawSelfNs"] is not null && bag.Properties["ProbeCostNs"] is not null
            && bag.Properties["CallsInside"] is not null)
        {
            durationNs = Number<long>("RawDurationNs");
            var rawSelfNs = Number<long>("RawSelfNs");
            probes = new ProbeAccount(Number<long>("ProbeCostNs"), rawSelfNs - selfNs, Number<int>("CallsInside"));
            selfNs = rawSelfNs;
        }
        // The on-CPU time as measured (probes included), empty for a call without one and absent from older exports.
        var rawOnCpuNs = Text("RawOnCpuNs") is null ? TracedCall.UnknownOnCpu : Number<long>("RawOnCpuNs");
        return table.Add(function, module, Text("Caller"), Text("Program"), Text("ComputerName") ?? "",
            bag.Properties["Start"]?.Value is { } start ? StartOf(start, which) : null,
            KindOf(bag, which), processId, threadId, depth, startNs, durationNs, selfNs, probes, rawOnCpuNs);
    }

    // A CSV holds "True"/"False", which PowerShell would take as two true strings; a bag without it is timed.
    private static CallKind KindOf(PSObject bag, string which)
    {
        if (bag.Properties["HasDuration"]?.Value is not { } value)
            return CallKind.Timed;
        return bool.TryParse(value.ToString(), out var hasDuration)
            ? hasDuration ? CallKind.Timed : CallKind.EntryOnly
            : throw new FormatException($"{which}: HasDuration '{value}' is not True or False");
    }

    /// <exception cref="FormatException"><paramref name="start"/> is not a time.</exception>
    private static long StartOf(object start, string which) => start switch
    {
        Timestamp t => t.UnixNanoseconds,
        PSObject { BaseObject: Timestamp t } => t.UnixNanoseconds,
        // Export-Clixml keeps a Timestamp's properties.
        PSObject bag when bag.Properties["UnixNanoseconds"]?.Value is { } ns => LanguagePrimitives.ConvertTo<long>(ns),
        _ => Timestamp.TryParse(start.ToString(), out var parsed)
            ? parsed.UnixNanoseconds
            : throw new FormatException($"{which}: Start '{start}' is not a time"),
    };
}
