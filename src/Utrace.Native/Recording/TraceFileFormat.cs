using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Apache.Arrow;
using Apache.Arrow.Types;
using Utrace.Native.Elf;

namespace Utrace.Native.Recording;

/// <summary>
/// The trace file's schema (docs/trace-format.md), shared by the writer and the reader: the
/// column names and types, and the schema metadata keys that hold everything else.
/// </summary>
internal static class TraceFileFormat
{
    /// <summary>Written into every file; a reader refuses a newer major version.</summary>
    public static readonly Version Version = new(2, 0);

    public const string Function = "function";
    public const string Module = "module";
    public const string Program = "program";
    public const string Caller = "caller";
    public const string Host = "host";
    public const string FunctionId = "function_id";
    public const string CallerId = "caller_id";
    public const string ProcessId = "pid";
    public const string ThreadId = "tid";
    public const string Depth = "depth";
    public const string Start = "start";
    public const string StartNs = "start_ns";
    public const string Kind = "kind";
    public const string Duration = "duration";
    public const string SelfDuration = "self_duration";
    public const string RawDuration = "raw_duration";
    public const string RawSelfDuration = "raw_self_duration";
    public const string ProbeCost = "probe_cost";
    public const string SelfProbeCost = "self_probe_cost";
    public const string CallsInside = "calls_inside";
    public const string OnCpu = "on_cpu";
    public const string RawOnCpu = "raw_on_cpu";

    /// <summary>The <see cref="Kind"/> column's values.</summary>
    public const string TimedKind = "timed";
    public const string EntryOnlyKind = "entry_only";

    // Format 1.x names, read only: 1.x stored the measured times as int64 ns, the kind (1.2) as a uint8 CallKind.
    public const string DurationNsV1 = "duration_ns";
    public const string SelfNsV1 = "self_ns";
    public const string ProbeCostNsV1 = "probe_cost_ns";
    public const string SelfProbeCostNsV1 = "self_probe_cost_ns";
    public const string OnCpuNsV1 = "on_cpu_ns";

    // Since 1.1, only in traces with -Capture.
    public const string Arguments = "arguments";
    public const string ArgumentStrings = "argument_strings";
    public const string ReturnValue = "return_value";

    public const string VersionKey = "utrace.format_version";
    public const string FunctionsKey = "utrace.functions";
    public const string StartMonotonicNsKey = "utrace.start_monotonic_ns";
    public const string StartTimeKey = "utrace.start_time";
    public const string CommandKey = "utrace.command";
    public const string ProcessIdsKey = "utrace.process_ids";
    public const string HostNameKey = "utrace.host_name";
    public const string KernelReleaseKey = "utrace.kernel_release";

    /// <summary>Field metadata of every column: its unit, and what it means in one sentence.</summary>
    public const string UnitKey = "utrace.unit";
    public const string MeaningKey = "utrace.meaning";

    /// <summary>The IPC stream's end-of-stream marker: a continuation token and a zero length.</summary>
    public static ReadOnlySpan<byte> EndOfStream => [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

    private static readonly TimestampType UtcNanoseconds = new(TimeUnit.Nanosecond, "UTC");

    /// <summary>
    /// The columns of every row, in file order, with how each is read off a call: the one list the Arrow
    /// writer and the Parquet export both follow (the capture columns come after them, in traces with -Capture).
    /// </summary>
    public static readonly TraceColumn[] Columns =
    [
        new(Function, StringType.Default, false, "", "the called function's name, demangled", Text: (in TracedCall c) => c.Function),
        new(Module, StringType.Default, false, "", "file name of the ELF the function lives in", Text: (in TracedCall c) => c.Module),
        new(Program, StringType.Default, true, "", "file name of the program whose process made the call; null in calls read from files older than format 1.1",
            Text: (in TracedCall c) => c.Context.Functions[c.FunctionId].Program),
        new(Caller, StringType.Default, true, "", "the traced caller's name; null for an outermost call (depth 0)",
            Text: (in TracedCall c) => c.CallerId < 0 ? null : c.Context.Functions[c.CallerId].Name),
        new(Host, StringType.Default, false, "", "host name of the machine that ran the trace", Text: (in TracedCall c) => c.ComputerName),
        new(FunctionId, Int32Type.Default, false, "", "index of the function in the utrace.functions table of the schema metadata",
            Value: (in TracedCall c) => c.FunctionId),
        new(CallerId, Int32Type.Default, true, "", "index of the traced caller in utrace.functions; null for an outermost call",
            Value: (in TracedCall c) => c.CallerId < 0 ? null : c.CallerId),
        new(ProcessId, Int32Type.Default, false, "", "process id", Value: (in TracedCall c) => c.ProcessId),
        new(ThreadId, Int32Type.Default, false, "", "Linux thread id", Value: (in TracedCall c) => c.ThreadId),
        new(Depth, Int32Type.Default, false, "", "0 for the outermost traced call of its thread", Value: (in TracedCall c) => c.Depth),
        new(Start, UtcNanoseconds, false, "ns", "wall-clock time (UTC) of the call's entry", Value: (in TracedCall c) => c.StartUnixNs),
        new(StartNs, UInt64Type.Default, false, "ns", "CLOCK_MONOTONIC of the traced machine at the call's entry",
            Value: (in TracedCall c) => (long)c.StartMonotonicNs),
        new(Kind, StringType.Default, false, "", "timed: reported when it returned; entry_only: reported at its entry, with no duration",
            Text: (in TracedCall c) => c.HasDuration ? TimedKind : EntryOnlyKind),
        new(Duration, DurationType.Nanosecond, true, "ns", "the program's own time in the call: raw_duration less probe_cost, at least 0; null for entry_only",
            Value: (in TracedCall c) => c.HasDuration ? c.DurationNs : null),
        new(SelfDuration, DurationType.Nanosecond, true, "ns", "duration less the time in traced callees; null for entry_only",
            Value: (in TracedCall c) => c.HasDuration ? c.SelfNs : null),
        new(RawDuration, DurationType.Nanosecond, true, "ns", "entry to return as measured, Utrace's probes included; null for entry_only",
            Value: (in TracedCall c) => c.HasDuration ? c.RawDurationNs : null),
        new(RawSelfDuration, DurationType.Nanosecond, true, "ns", "raw_duration less the raw durations of the traced callees; null for entry_only",
            Value: (in TracedCall c) => c.HasDuration ? c.RawSelfNs : null),
        new(ProbeCost, DurationType.Nanosecond, true, "ns", "what Utrace's probes took of raw_duration; null for entry_only",
            Value: (in TracedCall c) => c.HasDuration ? c.Probes.CostNs : null),
        new(SelfProbeCost, DurationType.Nanosecond, true, "ns", "what Utrace's probes took of raw_self_duration; null for entry_only",
            Value: (in TracedCall c) => c.HasDuration ? c.Probes.SelfCostNs : null),
        new(CallsInside, Int32Type.Default, false, "calls", "traced calls inside this one, at any depth, counted by the kernel",
            Value: (in TracedCall c) => c.Probes.CallsInside),
        new(OnCpu, DurationType.Nanosecond, true, "ns", "of duration, the time the thread spent on a CPU (the probes' cost taken out, within [0, duration]); null for entry_only and in calls read from files older than format 1.4",
            Value: (in TracedCall c) => c.OnCpuNs < 0 ? null : c.OnCpuNs),
        new(RawOnCpu, DurationType.Nanosecond, true, "ns", "of raw_duration, the time the thread spent on a CPU, Utrace's probes included; null where on_cpu is",
            Value: (in TracedCall c) => c.RawOnCpuNs < 0 ? null : c.RawOnCpuNs),
    ];

    public static Schema BuildSchema(TraceContext context, TraceOrigin origin)
    {
        var metadata = new Dictionary<string, string>
        {
            [VersionKey] = Version.ToString(2),
            [FunctionsKey] = JsonSerializer.Serialize(context.Functions.Select((f, id) => FunctionRecord.From(f, context.CaptureOf(id))), JsonOptions),
            [StartMonotonicNsKey] = context.StartMonotonicNs.ToString(CultureInfo.InvariantCulture),
            [StartTimeKey] = context.StartTime.ToString("O", CultureInfo.InvariantCulture),
            [CommandKey] = origin.Command,
            [ProcessIdsKey] = JsonSerializer.Serialize(origin.ProcessIds),
            [HostNameKey] = origin.HostName,
            [KernelReleaseKey] = origin.KernelRelease,
        };
        var fields = Columns.Select(column => column.Field).ToList();
        if (context.Captures is not null)
            fields.AddRange(CaptureFields);
        return new Schema(fields, metadata);
    }

    /// <summary>What a trace with -Capture adds to each row (a CapturedCall): null where nothing was captured.</summary>
    public static readonly Field[] CaptureFields =
    [
        new(Arguments, new ListType(new Field("item", UInt64Type.Default, nullable: false)), nullable: true,
            Describe("", "the six argument registers at entry (rdi, rsi, rdx, rcx, r8, r9); null when the function has no argument spec")),
        new(ArgumentStrings, new ListType(new Field("item", StringType.Default, nullable: true)), nullable: true,
            Describe("", "by argument position, the C string read for a string argument, or null")),
        new(ReturnValue, UInt64Type.Default, nullable: true, Describe("", "rax at the return; null when the spec has none or no return was seen")),
    ];

    /// <summary>The field metadata of a column.</summary>
    public static Dictionary<string, string> Describe(string unit, string meaning) => new() { [UnitKey] = unit, [MeaningKey] = meaning };

    /// <summary>The function table, and each function's capture spec when any has one (else null).</summary>
    public static (IReadOnlyList<FunctionInfo> Functions, IReadOnlyList<CaptureSpec?>? Captures) ParseFunctions(string json)
    {
        var records = JsonSerializer.Deserialize<FunctionRecord[]>(json, JsonOptions) ?? throw new JsonException("The function table is null.");
        var captures = records.Select(f => f.Capture is null ? null : ParseCapture(f.Capture)).ToArray();
        return (records.Select(f => f.ToFunctionInfo()).ToArray(), captures.Any(c => c is not null) ? captures : null);
    }

    private static CaptureSpec ParseCapture(string spec)
    {
        try
        {
            return CaptureSpec.Parse(spec);
        }
        catch (FormatException ex)
        {
            throw new JsonException(ex.Message, ex);
        }
    }

    public static IReadOnlyList<int> ParseProcessIds(string json) =>
        JsonSerializer.Deserialize<int[]>(json) ?? throw new JsonException("The process id list is null.");

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// One function of the table, as its JSON object: snake_case keys, kind as a name, capture (1.1) only when set,
    /// file and line (the source location from debug info) only when known.
    /// </summary>
    private sealed record FunctionRecord(string Name, string RawName, string Module, FunctionKind Kind, ulong Offset, ulong Size, string Path,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Capture = null, string? Program = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? File = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Line = null)
    {
        public static FunctionRecord From(FunctionInfo f, CaptureSpec? capture) =>
            new(f.Name, f.RawName, f.Module, f.Kind, f.Offset, f.Size, f.Path, capture?.ToString(), f.Program, f.SourceFile, f.SourceLine);

        public FunctionInfo ToFunctionInfo() => new(Name, RawName, Module, Kind, Offset, Size, Path, Program, File, Line);
    }
}

/// <summary>A column value of a call; null for a null cell.</summary>
internal delegate long? CallColumnValue(in TracedCall call);

/// <summary>A text column value of a call; null for a null cell.</summary>
internal delegate string? CallColumnText(in TracedCall call);

/// <summary>
/// One column of the trace file: its name and Arrow type (a string, an int32, or a 64-bit timestamp, duration or
/// integer), whether it may be null, the unit and meaning its field metadata carries, and how a call gives its value.
/// </summary>
internal sealed record TraceColumn(string Name, IArrowType Type, bool Nullable, string Unit, string Meaning, CallColumnValue? Value = null, CallColumnText? Text = null)
{
    public Field Field { get; } = new(Name, Type, Nullable, TraceFileFormat.Describe(Unit, Meaning));
}
