namespace Utrace.Native.Reports;

/// <summary>
/// Writes calls as a Perfetto trace (protobuf TrackEvent, what ui.perfetto.dev and its trace
/// processor read natively): a track per thread under a track per process, each call a
/// begin and an end slice (an entry-only call an instant), names and categories interned
/// once, captured values as debug annotations. Calls arrive in completion order (callees
/// first), so a thread's calls are held until its outermost call returns, then written in
/// time order; memory grows with the calls inside one outermost call, not with the trace.
/// </summary>
internal sealed class PerfettoTraceWriter : IDisposable
{
    // Field numbers and values of perfetto/protos/perfetto/trace/*.proto.
    private const int TracePacketField = 1;                         // Trace.packet
    private const int TimestampField = 8;                           // TracePacket.timestamp
    private const int SequenceIdField = 10;                         // TracePacket.trusted_packet_sequence_id
    private const int TrackEventField = 11;                         // TracePacket.track_event
    private const int InternedDataField = 12;                       // TracePacket.interned_data
    private const int SequenceFlagsField = 13;                      // TracePacket.sequence_flags
    private const int TrackDescriptorField = 60;                    // TracePacket.track_descriptor
    private const ulong IncrementalStateCleared = 1;                // SEQ_INCREMENTAL_STATE_CLEARED
    private const ulong NeedsIncrementalState = 2;                  // SEQ_NEEDS_INCREMENTAL_STATE
    private const int TrackUuidField = 1, TrackParentUuidField = 5, TrackNameField = 2; // TrackDescriptor
    private const int TrackProcessField = 3, TrackThreadField = 4;
    private const int ProcessPidField = 1, ProcessNameField = 6;   // ProcessDescriptor
    private const int ThreadPidField = 1, ThreadTidField = 2, ThreadNameField = 5; // ThreadDescriptor
    private const int EventCategoryIidsField = 3, EventDebugAnnotationsField = 4, EventTypeField = 9, EventNameIidField = 10, EventTrackUuidField = 11; // TrackEvent
    private const ulong SliceBegin = 1, SliceEnd = 2, Instant = 3; // TrackEvent.Type
    private const int InternedCategoriesField = 1, InternedNamesField = 2, InternedAnnotationNamesField = 3; // InternedData
    private const int InternedIidField = 1, InternedNameField = 2; // EventCategory, EventName, DebugAnnotationName
    private const int AnnotationNameIidField = 1, AnnotationBoolField = 2, AnnotationUIntField = 3, AnnotationIntField = 4; // DebugAnnotation
    private const int AnnotationStringField = 6, AnnotationPointerField = 7;
    private const ulong SequenceId = 1;

    private readonly ProtoStreamWriter _out;
    private readonly Dictionary<ThreadKey, ThreadTrack> _threads = [];
    private readonly Dictionary<(string ComputerName, int ProcessId), ulong> _processTracks = [];
    private readonly HostProcessIds _processIds = new();
    private readonly Interned _names = new(InternedNamesField), _categories = new(InternedCategoriesField), _annotationNames = new(InternedAnnotationNamesField);
    private readonly List<TracedCall> _open = [];
    private ulong _lastUuid;
    private bool _sequenceStarted;

    public PerfettoTraceWriter(Stream output) => _out = new ProtoStreamWriter(output);

    public void Add(in TracedCall call)
    {
        if (!_threads.TryGetValue(call.ThreadKey, out var thread))
            _threads.Add(call.ThreadKey, thread = new ThreadTrack());
        thread.Pending.Add(call);
        // An outermost call has returned: nothing that comes later on this thread began before it.
        if (call.Depth == 0)
            Write(thread);
    }

    /// <summary>Writes the calls still held (their outermost call did not return before the trace ended).</summary>
    public void Complete()
    {
        foreach (var thread in _threads.Values)
            Write(thread);
        _out.Flush();
    }

    public void Dispose() => _out.Dispose();

    private void Write(ThreadTrack thread)
    {
        if (thread.Pending.Count == 0)
            return;
        thread.Pending.Sort(InTimeOrder);
        if (thread.Uuid == 0)
            thread.Uuid = DescribeThread(thread.Pending[0]);
        foreach (var call in thread.Pending)
        {
            while (_open.Count > 0 && !Encloses(_open[^1], call))
                WriteEnd(thread.Uuid, _open[^1]);
            WriteEvent(thread.Uuid, call);
            if (call.HasDuration)
                _open.Add(call);
        }
        while (_open.Count > 0)
            WriteEnd(thread.Uuid, _open[^1]);
        thread.Pending.Clear();
    }

    // By start; at the same start the caller (smaller depth, then longer) first.
    private static int InTimeOrder(TracedCall a, TracedCall b)
    {
        var byStart = a.StartUnixNs.CompareTo(b.StartUnixNs);
        if (byStart != 0)
            return byStart;
        var byDepth = a.Depth.CompareTo(b.Depth);
        return byDepth != 0 ? byDepth : b.RawDurationNs.CompareTo(a.RawDurationNs);
    }

    // Whether a call still open when `call` begins holds it; one that ends as `call` begins holds it only if `call` is deeper.
    private static bool Encloses(in TracedCall open, in TracedCall call)
    {
        long openEnd = open.StartUnixNs + open.RawDurationNs, callEnd = call.StartUnixNs + call.RawDurationNs;
        return callEnd <= openEnd && (call.StartUnixNs < openEnd || call.Depth > open.Depth);
    }

    private void WriteEvent(ulong track, in TracedCall call)
    {
        BeginPacket((ulong)call.StartUnixNs, interned: true);
        var name = _names.IdOf(call.Function, out var newName);
        var category = _categories.IdOf(call.Module, out var newCategory);
        // Built once: each pass over the captured values would type them again.
        (string Name, object Value)[] annotations = call.Captured is null ? [.. call.SourceValues()] : [.. call.SourceValues(), .. call.CapturedValues()];
        if (newName || newCategory || annotations.Any(value => _annotationNames.IsNew(value.Name)))
        {
            _out.BeginMessage(InternedDataField);
            if (newCategory)
                _categories.Write(_out, category, call.Module);
            if (newName)
                _names.Write(_out, name, call.Function);
            foreach (var (annotation, _) in annotations)
            {
                if (_annotationNames.IsNew(annotation))
                    _annotationNames.Write(_out, _annotationNames.IdOf(annotation, out _), annotation);
            }
            _out.EndMessage();
        }
        _out.BeginMessage(TrackEventField);
        _out.WriteVarint(EventTypeField, call.HasDuration ? SliceBegin : Instant);
        _out.WriteVarint(EventTrackUuidField, track);
        _out.WriteVarint(EventNameIidField, name);
        _out.WriteVarint(EventCategoryIidsField, category);
        foreach (var (annotation, value) in annotations)
            WriteAnnotation(_annotationNames.IdOf(annotation, out _), value);
        _out.EndMessage();
        EndPacket();
    }

    private void WriteEnd(ulong track, in TracedCall call)
    {
        BeginPacket((ulong)(call.StartUnixNs + call.RawDurationNs), interned: false);
        _out.BeginMessage(TrackEventField);
        _out.WriteVarint(EventTypeField, SliceEnd);
        _out.WriteVarint(EventTrackUuidField, track);
        _out.EndMessage();
        EndPacket();
        _open.RemoveAt(_open.Count - 1);
    }

    private void WriteAnnotation(ulong nameId, object value)
    {
        _out.BeginMessage(EventDebugAnnotationsField);
        _out.WriteVarint(AnnotationNameIidField, nameId);
        switch (value)
        {
            case bool flag:
                _out.WriteVarint(AnnotationBoolField, flag ? 1UL : 0);
                break;
            case int or long:
                _out.WriteVarint(AnnotationIntField, (ulong)Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case uint or ulong:
                _out.WriteVarint(AnnotationUIntField, Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case Pointer pointer:
                _out.WriteVarint(AnnotationPointerField, pointer.Address);
                break;
            case string text:
                _out.WriteString(AnnotationStringField, text);
                break;
            default:
                _out.WriteString(AnnotationStringField, CallArguments.ShowValue(value));
                break;
        }
        _out.EndMessage();
    }

    // The thread's track, under its process's (described the first time one of its threads is).
    private ulong DescribeThread(in TracedCall first)
    {
        var pid = _processIds.Of(first, out var firstHost);
        if (!_processTracks.TryGetValue((first.ComputerName, first.ProcessId), out var process))
        {
            _processTracks.Add((first.ComputerName, first.ProcessId), process = ++_lastUuid);
            BeginPacket(timestamp: null, interned: false);
            _out.BeginMessage(TrackDescriptorField);
            _out.WriteVarint(TrackUuidField, process);
            _out.BeginMessage(TrackProcessField);
            _out.WriteVarint(ProcessPidField, (ulong)pid);
            // A process is named after the module of its first outermost call: its program, usually.
            _out.WriteString(ProcessNameField, firstHost ? first.Module : $"{first.Module} on {first.ComputerName}");
            _out.EndMessage();
            _out.EndMessage();
            EndPacket();
        }
        var thread = ++_lastUuid;
        BeginPacket(timestamp: null, interned: false);
        _out.BeginMessage(TrackDescriptorField);
        _out.WriteVarint(TrackUuidField, thread);
        _out.WriteVarint(TrackParentUuidField, process);
        _out.BeginMessage(TrackThreadField);
        _out.WriteVarint(ThreadPidField, (ulong)pid);
        _out.WriteVarint(ThreadTidField, (ulong)first.ThreadId);
        _out.WriteString(ThreadNameField, first.ThreadId == first.ProcessId ? "main thread" : $"thread {first.ThreadId}");
        _out.EndMessage();
        _out.EndMessage();
        EndPacket();
        return thread;
    }

    // One sequence for the whole file: its first packet clears the interning state, the packets that use interned names rely on it.
    private void BeginPacket(ulong? timestamp, bool interned)
    {
        _out.BeginMessage(TracePacketField);
        if (timestamp is { } ns)
            _out.WriteVarint(TimestampField, ns);
        _out.WriteVarint(SequenceIdField, SequenceId);
        var flags = (_sequenceStarted ? 0 : IncrementalStateCleared) | (interned ? NeedsIncrementalState : 0);
        if (flags != 0)
            _out.WriteVarint(SequenceFlagsField, flags);
        _sequenceStarted = true;
    }

    private void EndPacket() => _out.EndMessage();

    private sealed class ThreadTrack
    {
        public readonly List<TracedCall> Pending = [];
        public ulong Uuid;
    }

    /// <summary>One kind of interned string: ids from 1 in order of first use.</summary>
    private sealed class Interned(int fieldNumber)
    {
        private readonly Dictionary<string, ulong> _ids = new(StringComparer.Ordinal);

        public bool IsNew(string text) => !_ids.ContainsKey(text);

        public ulong IdOf(string text, out bool isNew)
        {
            isNew = !_ids.TryGetValue(text, out var id);
            if (isNew)
                _ids.Add(text, id = (ulong)_ids.Count + 1);
            return id;
        }

        public void Write(ProtoStreamWriter output, ulong id, string text)
        {
            output.BeginMessage(fieldNumber);
            output.WriteVarint(InternedIidField, id);
            output.WriteString(InternedNameField, text);
            output.EndMessage();
        }
    }
}
