using System.Globalization;

namespace Utrace.Native.Reports;

/// <summary>
/// Turns calls into the text of <c>uftrace replay</c>: one line per entry in entry order,
/// nested calls indented, a <c>}</c> closer with the function's name and duration, the thread
/// id on each line; or a flat list, one line per call. Calls arrive in completion order, so a
/// thread's calls are held until its outermost (depth 0) call returns, then that call's tree
/// is written at once. With debug info, each call's entry ends with its function's source file
/// and line, as uftrace --srcline writes them (<c>/* fib.c:7 */</c>).
/// </summary>
internal sealed class CallGraphWriter
{
    private const int DurationWidth = 10;
    private const int TimestampWidth = 14;

    private readonly bool _flat;
    private readonly bool _timestamps;
    private readonly Dictionary<ThreadKey, List<TracedCall>> _pending = [];

    public CallGraphWriter(bool flat, bool timestamps)
    {
        _flat = flat;
        _timestamps = timestamps;
    }

    /// <summary>Column titles, aligned with the lines.</summary>
    public string Header
    {
        get
        {
            var header = (_timestamps ? "TIMESTAMP".PadLeft(TimestampWidth) + " " : "")
                + "DURATION".PadLeft(DurationWidth) + " "
                + (_flat ? "SELF".PadLeft(DurationWidth) + " " : "")
                + "     TID"
                + (_flat ? " DEPTH FUNCTION" : "   FUNCTION");
            return "#" + header[1..];
        }
    }

    /// <summary>Takes one call; returns the lines of the tree it completes, if it is an outermost call.</summary>
    public IReadOnlyList<string> Add(in TracedCall call)
    {
        if (!_pending.TryGetValue(call.ThreadKey, out var calls))
            _pending.Add(call.ThreadKey, calls = []);
        if (call.Depth == 0 && !call.HasDuration)
        {
            // Reported at its entry (entry-only tracing): its callees come after it, and the
            // thread's previous tree is complete.
            var previous = calls.Count > 0 ? Render(calls) : [];
            calls.Clear();
            calls.Add(call);
            return previous;
        }
        calls.Add(call);
        if (call.Depth != 0)
            return [];
        var lines = Render(calls);
        calls.Clear();
        return lines;
    }

    /// <summary>The calls still held (their outermost call never returned, or was not traced), thread by thread.</summary>
    public IReadOnlyList<string> Flush()
    {
        var lines = new List<string>();
        foreach (var calls in _pending.Values.Where(c => c.Count > 0).OrderBy(c => c[0].ThreadId))
            lines.AddRange(Render(calls));
        _pending.Clear();
        return lines;
    }

    private List<string> Render(List<TracedCall> calls)
    {
        calls.Sort((x, y) => x.StartNs != y.StartNs ? x.StartNs.CompareTo(y.StartNs) : x.Depth.CompareTo(y.Depth));
        var lines = new List<string>(_flat ? calls.Count : calls.Count * 2);
        if (_flat)
        {
            foreach (var call in calls)
                lines.Add($"{Prefix(call.StartNs, DurationOf(call))}{DurationText(call.SelfNs),DurationWidth} [{call.ThreadId,6}] {call.Depth,5} {call.Function}{SourceNote(call)}");
            return lines;
        }

        var open = new Stack<TracedCall>();
        for (var i = 0; i < calls.Count; i++)
        {
            var call = calls[i];
            while (open.Count > 0 && !Encloses(open.Peek(), call))
                lines.Add(Closer(open.Pop()));
            var indent = new string(' ', 2 * call.Depth);
            if (i + 1 < calls.Count && Encloses(call, calls[i + 1]))
            {
                lines.Add($"{Prefix(call.StartNs, null)}[{call.ThreadId,6}] | {indent}{Called(call.Function)} {{{SourceNote(call)}");
                open.Push(call);
            }
            else
            {
                lines.Add($"{Prefix(call.StartNs, DurationOf(call))}[{call.ThreadId,6}] | {indent}{Called(call.Function)};{SourceNote(call)}");
            }
        }
        while (open.Count > 0)
            lines.Add(Closer(open.Pop()));
        return lines;
    }

    // Deeper and, when the outer call was timed, started before it returned: a call whose caller
    // never returned (exit() called in main) is not shown inside the call before it. Where calls sit
    // in time is as measured (the probes' cost included), so that they nest; the durations shown are
    // the program's own.
    private static bool Encloses(in TracedCall outer, in TracedCall inner) =>
        inner.Depth > outer.Depth && (!outer.HasDuration || inner.StartNs < outer.StartNs + outer.RawDurationNs);

    private string Closer(in TracedCall call) =>
        $"{Prefix(call.StartNs + call.RawDurationNs, DurationOf(call))}[{call.ThreadId,6}] | {new string(' ', 2 * call.Depth)}}} /* {call.Function} */";

    /// <summary>The timestamp (seconds from the start of the trace) when asked for, then the duration or blanks.</summary>
    private string Prefix(long timestampNs, long? durationNs)
    {
        var timestamp = _timestamps
            ? string.Create(CultureInfo.InvariantCulture, $"{timestampNs / 1e9,TimestampWidth:0.000000000} ")
            : "";
        return $"{timestamp}{(durationNs is { } ns ? DurationText(ns) : ""),DurationWidth} ";
    }

    // A call reported at its entry has no duration: its column is left blank.
    private static long? DurationOf(in TracedCall call) => call.HasDuration ? call.DurationNs : null;

    private static string DurationText(long ns) => Duration.FromNanoseconds(ns).ToString(null, CultureInfo.InvariantCulture);

    /// <summary>" /* fib.c:7 */": the file's name and the line, or nothing without debug info.</summary>
    private static string SourceNote(in TracedCall call) =>
        call.Source is { } source ? string.Create(CultureInfo.InvariantCulture, $" /* {Path.GetFileName(source.File)}:{source.Line} */") : "";

    /// <summary>"main()"; a demangled C++ name already carries its parameter list.</summary>
    private static string Called(string function) => function.Contains('(') ? function : function + "()";
}
