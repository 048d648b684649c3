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
    public static readonly Version Version = new(1, 3);

    public const string FunctionId = "function_id";
    public const string CallerId = "caller_id";
    public const string ProcessId = "pid";
    public const string ThreadId = "tid";
    public const string Depth = "depth";
    public const string StartNs = "start_ns";
    public const string DurationNs = "duration_ns";
    public const string SelfNs = "self_ns";

    // Since 1.2: a CallKind. A file without it holds timed calls only (entry-only calls read as timed before).
    public const string Kind = "kind";

    // Since 1.3: what Utrace's probes took of each call (duration_ns and self_ns stay as measured), and the traced
    // calls the kernel counted inside it. A file without them has no probe cost taken out.
    public const string ProbeCostNs = "probe_cost_ns";
    public const string SelfProbeCostNs = "self_probe_cost_ns";
    public const string CallsInside = "calls_inside";

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

    /// <summary>The IPC stream's end-of-stream marker: a continuation token and a zero length.</summary>
    public static ReadOnlySpan<byte> EndOfStream => [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

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
        List<Field> fields =
        [
            new(FunctionId, Int32Type.Default, nullable: false),
            new(CallerId, Int32Type.Default, nullable: true),
            new(ProcessId, Int32Type.Default, nullable: false),
            new(ThreadId, Int32Type.Default, nullable: false),
            new(Depth, Int32Type.Default, nullable: false),
            new(StartNs, UInt64Type.Default, nullable: false),
            new(DurationNs, Int64Type.Default, nullable: false),
            new(SelfNs, Int64Type.Default, nullable: false),
            new(Kind, UInt8Type.Default, nullable: false),
            new(ProbeCostNs, Int64Type.Default, nullable: false),
            new(SelfProbeCostNs, Int64Type.Default, nullable: false),
            new(CallsInside, Int32Type.Default, nullable: false),
        ];
        if (context.Captures is not null)
            fields.AddRange(CaptureFields);
        return new Schema(fields, metadata);
    }

    /// <summary>What a trace with -Capture adds to each row (a CapturedCall): null where nothing was captured.</summary>
    public static readonly Field[] CaptureFields =
    [
        new(Arguments, new ListType(new Field("item", UInt64Type.Default, nullable: false)), nullable: true),
        new(ArgumentStrings, new ListType(new Field("item", StringType.Default, nullable: true)), nullable: true),
        new(ReturnValue, UInt64Type.Default, nullable: true),
    ];

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
