using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Utrace.Native.Reports;

/// <summary>
/// Writes calls as Trace Event Format JSON (what Perfetto UI and chrome://tracing load), one
/// line at a time so nothing is held: a JSON array of complete ("X") events with pid, tid, ts
/// and dur in microseconds (nanoseconds as the fraction), and metadata ("M") events that name
/// each process and thread the first time it appears. Events carry no per-call "args" unless
/// asked: viewers such as speedscope tell frames apart by name and args, so args that differ
/// for each call would make each call a function of its own. A function's source file and line
/// (from debug info), the same for each of its calls, are always in its args.
/// </summary>
internal sealed class ChromeTraceWriter(bool includeArguments = false)
{
    private readonly HashSet<ThreadKey> _namedThreads = [];
    private readonly HashSet<(string ComputerName, int ProcessId)> _namedProcesses = [];
    private readonly HostProcessIds _processIds = new();
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private bool _first = true;
    private long? _firstTraceStartUnixNs;

    public static string Begin => "[";
    public static string End => "]";

    /// <summary>The lines for one call: metadata for a new process or thread, then its event.</summary>
    public IEnumerable<string> Add(TracedCall call)
    {
        // Calls of several traces (files read together) on one time line, from the first trace's start.
        var startNs = call.StartNsSince(_firstTraceStartUnixNs ??= call.TraceStartUnixNs);
        var pid = _processIds.Of(call, out var firstHost);
        // A process is named after the module of its first outermost call: its program, usually.
        if (call.Depth == 0 && _namedProcesses.Add((call.ComputerName, call.ProcessId)))
        {
            var name = firstHost ? $"{call.Module} ({call.ProcessId})" : $"{call.Module} ({call.ProcessId}) on {call.ComputerName}";
            yield return Line(w => Metadata(w, "process_name", pid, pid, name));
        }
        if (_namedThreads.Add(call.ThreadKey))
        {
            var name = call.ThreadId == call.ProcessId ? $"main thread ({call.ThreadId})" : $"thread {call.ThreadId}";
            yield return Line(w => Metadata(w, "thread_name", pid, call.ThreadId, name));
        }
        yield return Line(w =>
        {
            w.WriteString("name", call.Function);
            w.WriteString("cat", call.Module);
            w.WriteString("ph", "X");
            w.WriteNumber("pid", pid);
            w.WriteNumber("tid", call.ThreadId);
            w.WritePropertyName("ts");
            w.WriteRawValue(Microseconds(startNs));
            // Slices keep their measured place and length, so that callees nest in their callers; the
            // arguments give the program's own time.
            w.WritePropertyName("dur");
            w.WriteRawValue(Microseconds(call.RawDurationNs));
            if (includeArguments || call.Source is not null)
                Arguments(w, call, includeArguments);
        });
    }

    private static void Arguments(Utf8JsonWriter w, in TracedCall call, bool perCall)
    {
        w.WriteStartObject("args");
        if (call.Source is { } source)
        {
            w.WriteString("file", source.File);
            w.WriteNumber("line", source.Line);
        }
        if (!perCall)
        {
            w.WriteEndObject();
            return;
        }
        w.WritePropertyName("self_us");
        w.WriteRawValue(Microseconds(call.SelfNs));
        w.WritePropertyName("own_us");
        w.WriteRawValue(Microseconds(call.DurationNs));
        w.WritePropertyName("probe_cost_us");
        w.WriteRawValue(Microseconds(call.Probes.CostNs));
        w.WriteNumber("depth", call.Depth);
        foreach (var (name, value) in call.CapturedValues())
        {
            if (value is string text)
                w.WriteString(name, text);
            else
                w.WriteString(name, CallArguments.ShowValue(value));
        }
        w.WriteEndObject();
    }

    private static void Metadata(Utf8JsonWriter w, string kind, int pid, int tid, string name)
    {
        w.WriteString("name", kind);
        w.WriteString("ph", "M");
        w.WriteNumber("pid", pid);
        w.WriteNumber("tid", tid);
        w.WriteStartObject("args");
        w.WriteString("name", name);
        w.WriteEndObject();
    }

    private string Line(Action<Utf8JsonWriter> writeProperties)
    {
        _buffer.Clear();
        using (var writer = new Utf8JsonWriter(_buffer))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
        }
        var line = Encoding.UTF8.GetString(_buffer.WrittenSpan);
        if (_first)
        {
            _first = false;
            return line;
        }
        return "," + line;
    }

    /// <summary>Nanoseconds as an exact decimal number of microseconds ("1234.567").</summary>
    private static string Microseconds(long ns) =>
        ns < 0 ? "-" + Microseconds(-ns) : string.Create(CultureInfo.InvariantCulture, $"{ns / 1000}.{ns % 1000:D3}");
}
