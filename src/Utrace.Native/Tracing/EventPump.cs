using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Utrace.Native.Bpf;
using Utrace.Native.Capture;
using Utrace.Native.Recording;

namespace Utrace.Native.Tracing;

/// <summary>
/// Takes the records the ring-buffer reader reads: each call goes to the trace file, if any, and in
/// batches to the consumer's queue, which <see cref="TryRead"/> and <see cref="ReadEvents"/> empty;
/// process changes go to the callback given. Counts what was read and what no consumer took.
/// </summary>
internal sealed class EventPump : IRecordSink
{
    // Events go to the consumer in batches: one queue operation per batch, not per event.
    private const int BatchSize = 256;
    private readonly TraceOptions _options;
    private readonly BlockingCollection<ArraySegment<CallEvent>> _queue;
    private readonly IEventSink? _recorder;
    private readonly Action<ProcessRecord> _onProcessEvent;
    private readonly CancellationTokenSource _consumerGone = new();
    private TraceContext? _context;
    private CaptureJoiner? _captures;
    private long _delivered;
    private long _droppedByConsumer;
    private CallEvent[] _filling = new CallEvent[BatchSize]; // the reader thread's
    private int _filled;
    private ArraySegment<CallEvent> _reading = ArraySegment<CallEvent>.Empty; // the consumer's
    private int _readIndex;

    public EventPump(TraceOptions options, Action<ProcessRecord> onProcessEvent)
    {
        _options = options;
        _queue = new BlockingCollection<ArraySegment<CallEvent>>(Math.Max(1, options.QueueCapacity / BatchSize));
        _recorder = options.Recording;
        _onProcessEvent = onProcessEvent;
    }

    /// <summary>Events handed to the consumer.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Events read after the consumer stopped reading.</summary>
    public long DroppedByConsumer => _droppedByConsumer;

    /// <summary>Call before the reader starts: what the calls are made of, and whether capture records come.</summary>
    public void Begin(TraceContext context, bool joinsCaptures)
    {
        _context = context;
        _captures = joinsCaptures ? new CaptureJoiner() : null;
    }

    /// <summary>Nobody reads any more: later events are counted as dropped instead of queued.</summary>
    public void ConsumerGone() => _consumerGone.Cancel();

    /// <summary>No more events come: once the queue is empty, reading ends.</summary>
    public void Complete() => _queue.CompleteAdding();

    /// <inheritdoc cref="TraceSession.ReadEvents"/>
    public IEnumerable<CallEvent> ReadEvents(CancellationToken cancellation)
    {
        using var gone = cancellation.Register(_consumerGone.Cancel);
        while (TryRead(out var e, Timeout.Infinite, cancellation))
            yield return e;
    }

    /// <inheritdoc cref="TraceSession.TryRead"/>
    public bool TryRead([NotNullWhen(true)] out CallEvent? e, int millisecondsTimeout, CancellationToken cancellation)
    {
        if (_readIndex >= _reading.Count)
        {
            if (!_queue.TryTake(out _reading, millisecondsTimeout, cancellation))
            {
                e = null;
                return false;
            }
            _readIndex = 0;
        }
        e = _reading[_readIndex++];
        Interlocked.Increment(ref _delivered);
        return true;
    }

    /// <inheritdoc cref="TraceSession.IsDrained"/>
    public bool IsDrained => _queue.IsCompleted && _readIndex >= _reading.Count;

    void IRecordSink.OnProcessEvent(in ProcessRecord record) => _onProcessEvent(record);

    void IRecordSink.OnCapture(ReadOnlySpan<byte> record) => _captures?.Add(record);

    // The hot path: runs on the reader thread for every record.
    void IRecordSink.OnEvent(in EventRecord record)
    {
        var call = record.ToTracedCall(_context!, _captures?.Take(record));
        _recorder?.OnEvent(call);
        if (!_options.StreamEvents)
            return;
        if (_consumerGone.IsCancellationRequested)
        {
            _droppedByConsumer++;
            return;
        }
        _filling[_filled++] = new CallEvent(call);
        if (_filled == BatchSize)
            HandOverBatch();
    }

    // After each pass over the ring: what was read goes to the consumer now, however few.
    void IRecordSink.OnRecordsRead()
    {
        if (_filled > 0)
            HandOverBatch();
    }

    private void HandOverBatch()
    {
        var batch = new ArraySegment<CallEvent>(_filling, 0, _filled);
        _filling = new CallEvent[BatchSize];
        _filled = 0;
        if (_queue.TryAdd(batch))
            return;
        try
        {
            _queue.Add(batch, _consumerGone.Token);
        }
        catch (OperationCanceledException)
        {
            _droppedByConsumer += batch.Count;
        }
    }
}
