using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Utrace.Native.Recording;
using Utrace.Native.Tracing;

namespace Utrace;

/// <summary>
/// A trace file opened for reading (docs/trace-format.md): its function table, clock and origin
/// are read at once; <see cref="ReadEvents"/> streams the calls one record batch at a time, so
/// memory does not grow with the file. A file whose writer was killed, or that is still being
/// written, reads up to its last complete batch and says so in <see cref="WasCut"/>.
/// </summary>
public sealed class TraceFile : IDisposable
{
    // Larger than any schema Utrace writes (a function table of 100,000 functions is ~20 MB).
    private const int MaxSchemaBytes = 256 << 20;

    private readonly FileStream _stream;
    private readonly ArrowStreamReader _reader;
    private readonly int[] _columns;
    private readonly int[]? _captureColumns;
    private readonly int _hostColumn;
    private bool _read;

    private TraceFile(string path, FileStream stream, ArrowStreamReader reader, Version version,
        TraceContext context, TraceOrigin origin, int[] columns, int[]? captureColumns, int hostColumn)
    {
        _hostColumn = hostColumn;
        Path = path;
        _stream = stream;
        _reader = reader;
        FormatVersion = version;
        Context = context;
        Origin = origin;
        _columns = columns;
        _captureColumns = captureColumns;
    }

    public string Path { get; }

    /// <summary>The format version the file was written with.</summary>
    public Version FormatVersion { get; }

    /// <summary>The function table and clock anchor the file's events refer to.</summary>
    public TraceContext Context { get; }

    /// <summary>What was traced, on which machine.</summary>
    public TraceOrigin Origin { get; }

    /// <summary>
    /// True once <see cref="ReadEvents"/> has met the end of the file before the stream's end
    /// marker: the writer was killed, the disk filled up, or the trace is still being recorded.
    /// </summary>
    public bool WasCut { get; private set; }

    /// <summary>Opens <paramref name="path"/> and reads its header; a file that is not a readable Utrace trace is a <see cref="UtraceException"/>.</summary>
    public static TraceFile Open(string path)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException ex)
        {
            throw new UtraceException(TraceErrorKind.NotFound, $"The trace file '{fullPath}' does not exist.",
                "Check the path; record a trace with Start-UTrace -OutFile.", fullPath, inner: ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UtraceException(TraceErrorKind.PermissionDenied, $"Cannot open the trace file '{fullPath}': {ex.Message}",
                "Check the file's permissions (trace files are created mode 0640).", fullPath, inner: ex);
        }
        try
        {
            return ReadHeader(fullPath, stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The calls in the file, in the order they completed. Read once: the file is streamed.
    /// </summary>
    public IEnumerable<CallEvent> ReadEvents()
    {
        var batches = ReadBatches();
        return Stream();

        IEnumerable<CallEvent> Stream()
        {
            var events = new CallEvent[0];
            var hosts = new HostContexts(Context);
            foreach (var batch in batches)
            {
                // Made a batch at a time, each column read in one pass, then handed out.
                var n = batch.Length;
                if (events.Length != n)
                    events = new CallEvent[n];
                var captures = _captureColumns is null ? null : new CaptureColumns(batch.Source, _captureColumns);
                var hostNames = _hostColumn < 0 ? null : (StringArray)batch.Source.Column(_hostColumn);
                for (var i = 0; i < n; i++)
                    events[i] = new CallEvent(batch.CallAt(hostNames is null ? Context : hosts.Of(hostNames, i), i, captures?.At(i)));
                foreach (var e in events)
                    yield return e;
            }
        }
    }

    /// <summary>
    /// The file's record batches as column spans, for reports that need no object per call.
    /// Read once, like <see cref="ReadEvents"/>; each batch is valid until the next is read.
    /// </summary>
    internal IEnumerable<EventBatch> ReadBatches()
    {
        if (_read)
            throw new InvalidOperationException("The events of a trace file are streamed and can be read only once; open the file again.");
        _read = true;
        return Stream();

        IEnumerable<EventBatch> Stream()
        {
            var view = new EventBatch();
            while (NextBatch() is { } batch)
            {
                using (batch)
                {
                    if (view.Load(batch, _columns, Context.Functions.Count) is { } damage)
                        throw Invalid(Path, damage);
                    yield return view;
                }
            }
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
    }

    /// <summary>The next batch; null at the end, or where the file was cut.</summary>
    private RecordBatch? NextBatch()
    {
        RecordBatch? batch;
        try
        {
            batch = _reader.ReadNextRecordBatch();
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            // A batch the writer did not finish: the file ends inside it.
            WasCut = true;
            return null;
        }
        if (batch is null)
            WasCut = !EndsWithEndMarker();
        return batch;
    }

    private bool EndsWithEndMarker()
    {
        Span<byte> tail = stackalloc byte[TraceFileFormat.EndOfStream.Length];
        var length = _stream.Length;
        return length >= tail.Length
            && RandomAccess.Read(_stream.SafeFileHandle, tail, length - tail.Length) == tail.Length
            && tail.SequenceEqual(TraceFileFormat.EndOfStream);
    }

    private static TraceFile ReadHeader(string path, FileStream stream)
    {
        // Checked before Arrow reads anything, so random bytes cannot ask it for a huge message.
        Span<byte> prefix = stackalloc byte[8];
        var got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (got == 0)
            throw new UtraceException(TraceErrorKind.InvalidData, $"The trace file '{path}' is empty.",
                "The recording did not start (or was killed before it wrote anything); record the trace again.", path);
        var length = got == prefix.Length ? BinaryPrimitives.ReadInt32LittleEndian(prefix[4..]) : 0;
        if (got < prefix.Length || BinaryPrimitives.ReadUInt32LittleEndian(prefix) != 0xffffffff
            || length <= 0 || length > MaxSchemaBytes || length > stream.Length - prefix.Length)
            throw NotATrace(path);
        stream.Position = 0;
        var reader = new ArrowStreamReader(stream, new ReusedBufferAllocator(), leaveOpen: true);
        try
        {
            Schema schema;
            try
            {
                schema = reader.Schema;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                throw NotATrace(path, ex);
            }
            var metadata = schema.Metadata ?? new Dictionary<string, string>();
            if (!metadata.TryGetValue(TraceFileFormat.VersionKey, out var versionText))
                throw new UtraceException(TraceErrorKind.InvalidData, $"'{path}' is an Arrow stream, but not a Utrace trace: it has no {TraceFileFormat.VersionKey}.",
                    "Import-UTrace reads files written by Start-UTrace -OutFile; open other Arrow files with an Arrow reader.", path);
            if (!Version.TryParse(versionText, out var version))
                throw Invalid(path, $"its format version '{versionText}' is not a version");
            if (version.Major > TraceFileFormat.Version.Major)
                throw new UtraceException(TraceErrorKind.NotSupported,
                    $"The trace file '{path}' has format version {versionText}, written by a newer Utrace; this one reads version {TraceFileFormat.Version.Major}.x.",
                    "Update Utrace to read it.", path);
            var columns = FindColumns(path, schema, version);
            var (context, origin) = ReadMetadata(path, metadata);
            var host = version.Major >= 2 ? Find(path, schema, TraceFileFormat.Host, ArrowTypeId.String, required: true) : -1;
            return new TraceFile(path, stream, reader, version, context, origin, columns, FindCaptureColumns(path, schema), host);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The indexes of the columns <see cref="EventBatch.Load"/> reads, in its order: ids, pid, tid, depth, the monotonic
    /// start, the measured duration and self time, the kind, the probe costs and calls_inside, the measured time on a CPU
    /// (-1 for those a 1.x file lacks).
    /// </summary>
    private static int[] FindColumns(string path, Schema schema, Version version)
    {
        var v2 = version.Major >= 2;
        (string Name, ArrowTypeId Type)[] expected =
        [
            (TraceFileFormat.FunctionId, ArrowTypeId.Int32),
            (TraceFileFormat.CallerId, ArrowTypeId.Int32),
            (TraceFileFormat.ProcessId, ArrowTypeId.Int32),
            (TraceFileFormat.ThreadId, ArrowTypeId.Int32),
            (TraceFileFormat.Depth, ArrowTypeId.Int32),
            (TraceFileFormat.StartNs, ArrowTypeId.UInt64),
            v2 ? (TraceFileFormat.RawDuration, ArrowTypeId.Duration) : (TraceFileFormat.DurationNsV1, ArrowTypeId.Int64),
            v2 ? (TraceFileFormat.RawSelfDuration, ArrowTypeId.Duration) : (TraceFileFormat.SelfNsV1, ArrowTypeId.Int64),
        ];
        var indexes = expected.Select(column => Find(path, schema, column.Name, column.Type, required: true)).ToList();
        // Files from before 1.2 have no kind column: every call in them reads as timed.
        indexes.Add(Find(path, schema, TraceFileFormat.Kind, v2 ? ArrowTypeId.String : ArrowTypeId.UInt8, required: v2));
        // Files from before 1.3 have no probe costs: their calls read as measured.
        (string Name, ArrowTypeId Type)[] probeColumns = v2
            ? [(TraceFileFormat.ProbeCost, ArrowTypeId.Duration), (TraceFileFormat.SelfProbeCost, ArrowTypeId.Duration), (TraceFileFormat.CallsInside, ArrowTypeId.Int32)]
            : [(TraceFileFormat.ProbeCostNsV1, ArrowTypeId.Int64), (TraceFileFormat.SelfProbeCostNsV1, ArrowTypeId.Int64), (TraceFileFormat.CallsInside, ArrowTypeId.Int32)];
        var probes = probeColumns.Select(column => Find(path, schema, column.Name, column.Type, required: v2)).ToArray();
        if (probes.Distinct().Count() > 1 && probes.Contains(-1))
            throw Invalid(path, $"it has some of the probe cost columns but not all ({string.Join(", ", probeColumns.Select(c => c.Name))})");
        indexes.AddRange(probes);
        // Files from before 1.4 have no on-CPU time: their calls have none.
        indexes.Add(v2 ? Find(path, schema, TraceFileFormat.RawOnCpu, ArrowTypeId.Duration, required: true)
            : Find(path, schema, TraceFileFormat.OnCpuNsV1, ArrowTypeId.Int64, required: false));
        return indexes.ToArray();
    }

    /// <summary>The index of the column <paramref name="name"/> of type <paramref name="type"/>; -1 when it is missing and not <paramref name="required"/>.</summary>
    private static int Find(string path, Schema schema, string name, ArrowTypeId type, bool required)
    {
        var index = schema.GetFieldIndex(name, StringComparer.Ordinal);
        if (index < 0 && !required)
            return -1;
        if (index < 0 || schema.GetFieldByIndex(index).DataType.TypeId != type)
            throw Invalid(path, $"it has no {type} column '{name}'");
        return index;
    }

    /// <summary>The capture columns (format 1.1, a trace with -Capture), or null when the file has none.</summary>
    private static int[]? FindCaptureColumns(string path, Schema schema)
    {
        var indexes = TraceFileFormat.CaptureFields.Select(field => schema.GetFieldIndex(field.Name, StringComparer.Ordinal)).ToArray();
        if (indexes.All(index => index < 0))
            return null;
        for (var i = 0; i < indexes.Length; i++)
        {
            var expected = TraceFileFormat.CaptureFields[i];
            if (indexes[i] < 0 || schema.GetFieldByIndex(indexes[i]).DataType.ToString() != expected.DataType.ToString())
                throw Invalid(path, $"its capture column '{expected.Name}' is missing or not a {expected.DataType}");
        }
        return indexes;
    }

    /// <summary>
    /// The context of each host a file's rows name (an export of calls from several machines): the file's own
    /// function table and clock, with that host's name, so every call reads back with its ComputerName.
    /// </summary>
    private sealed class HostContexts(TraceContext file)
    {
        private readonly Dictionary<string, TraceContext> _byHost = new(StringComparer.Ordinal);
        private byte[] _lastName = Encoding.UTF8.GetBytes(file.HostName);
        private TraceContext? _last;

        public TraceContext Of(StringArray hostNames, int row)
        {
            TraceContext? context;
            var name = hostNames.GetBytes(row);
            if (name.SequenceEqual(_lastName))
                return _last ?? file;
            var host = hostNames.GetString(row);
            if (host == file.HostName)
                context = file;
            else if (!_byHost.TryGetValue(host, out context))
                _byHost.Add(host, context = new TraceContext(file.Functions, file.StartMonotonicNs, file.ToWallClock(file.StartMonotonicNs), file.Captures) { HostName = host });
            (_lastName, _last) = (name.ToArray(), context);
            return context;
        }
    }

    /// <summary>A batch's capture columns, read row by row into CapturedCalls.</summary>
    private sealed class CaptureColumns(RecordBatch batch, int[] columns)
    {
        private readonly ListArray _arguments = (ListArray)batch.Column(columns[0]);
        private readonly ListArray _strings = (ListArray)batch.Column(columns[1]);
        private readonly UInt64Array _returnValues = (UInt64Array)batch.Column(columns[2]);

        public CapturedCall? At(int row)
        {
            if (_arguments.IsNull(row) && _strings.IsNull(row) && _returnValues.IsNull(row))
                return null;
            var registers = _arguments.IsNull(row) ? null : ((UInt64Array)_arguments.GetSlicedValues(row)).Values.ToArray();
            string?[]? strings = null;
            if (!_strings.IsNull(row))
            {
                var texts = (StringArray)_strings.GetSlicedValues(row);
                strings = Enumerable.Range(0, texts.Length).Select(i => texts.GetString(i)).ToArray();
            }
            return new CapturedCall(registers, strings, _returnValues.GetValue(row));
        }
    }

    private static (TraceContext, TraceOrigin) ReadMetadata(string path, IReadOnlyDictionary<string, string> metadata)
    {
        string Get(string key) => metadata.TryGetValue(key, out var value) ? value : throw Invalid(path, $"its metadata has no {key}");
        try
        {
            var (functions, captures) = TraceFileFormat.ParseFunctions(Get(TraceFileFormat.FunctionsKey));
            var startMonotonicNs = ulong.Parse(Get(TraceFileFormat.StartMonotonicNsKey), CultureInfo.InvariantCulture);
            var startTime = DateTime.Parse(Get(TraceFileFormat.StartTimeKey), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            var origin = new TraceOrigin
            {
                Command = Get(TraceFileFormat.CommandKey),
                ProcessIds = TraceFileFormat.ParseProcessIds(Get(TraceFileFormat.ProcessIdsKey)),
                HostName = Get(TraceFileFormat.HostNameKey),
                KernelRelease = Get(TraceFileFormat.KernelReleaseKey),
            };
            return (new TraceContext(functions, startMonotonicNs, startTime, captures) { HostName = origin.HostName }, origin);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or OverflowException)
        {
            throw Invalid(path, $"its metadata does not parse ({ex.Message})", ex);
        }
    }

    private static UtraceException Invalid(string path, string what, Exception? inner = null) =>
        new(TraceErrorKind.InvalidData, $"The trace file '{path}' is damaged: {what}.",
            "Record the trace again; a file cut short still reads up to where it was cut.", path, inner: inner);

    private static UtraceException NotATrace(string path, Exception? inner = null) =>
        new(TraceErrorKind.InvalidData, $"'{path}' is not a Utrace trace file: it does not start with an Arrow IPC stream schema.",
            "Import-UTrace reads files written by Start-UTrace -OutFile.", path, inner: inner);
}
