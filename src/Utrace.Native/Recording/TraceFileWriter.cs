using System.Collections.Concurrent;
using System.Diagnostics;
using Apache.Arrow.Ipc;
using Microsoft.Win32.SafeHandles;
using Utrace.Native.Tracing;

namespace Utrace.Native.Recording;

/// <summary>
/// Records a trace into an Arrow IPC stream file (docs/trace-format.md). The ring-buffer reader
/// copies each record into a chunk; full chunks go through a bounded queue to the writer's own
/// thread, which encodes each one as a record batch and writes it at once. A chunk that waits
/// longer than <see cref="FlushInterval"/> is written part-full, so a killed tracer loses at
/// most about the last second of events.
/// </summary>
internal sealed class TraceFileWriter : IEventSink, IDisposable
{
    /// <summary>Longest time a recorded event waits in memory before it is written.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(500);

    private const int QueuedChunks = 32;

    // Room kept in the schema message of a trace whose function table grows (-Follow, libraries
    // loaded later): about 6,000 more functions, at least 4 times the first table.
    private const int GrowthRoomBytes = 1 << 20;

    private readonly SafeFileHandle _file;
    private readonly bool _dropWhenBehind;
    private readonly object _gate = new();
    private readonly BlockingCollection<EventChunk> _queue = new(QueuedChunks);
    private readonly ConcurrentQueue<EventChunk> _free = new();
    private readonly MemoryStream _pending = new();
    private readonly Stopwatch _sinceWrite = new();
    private EventChunk _filling = new();
    private ArrowStreamWriter? _arrow;
    private BatchEncoder? _encoder;
    private Thread? _thread;
    private TraceContext? _context;
    private TraceOrigin? _origin;
    private int _schemaMessageBytes;
    private long _fileLength;
    private long _written;
    private long _dropped;
    private bool _completed;
    private volatile UtraceException? _failure;

    private TraceFileWriter(string path, SafeFileHandle file, bool dropWhenBehind, bool created)
    {
        Path = path;
        _file = file;
        _dropWhenBehind = dropWhenBehind;
        _created = created;
    }

    // Whether this writer made the file: only then may it change its mode and owner, or delete it.
    private readonly bool _created;

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <summary>Events in complete record batches in the file.</summary>
    public long EventsWritten => Interlocked.Read(ref _written);

    /// <summary>Events the writer could not take: its queue was full, or writing had failed.</summary>
    public long EventsDropped => Interlocked.Read(ref _dropped);

    /// <summary>Why the recording ended early (a full disk, an I/O error), or null.</summary>
    public UtraceException? Failure => _failure;

    /// <summary>Raised once, on a pool thread (as a task: a handler that throws faults only the task), when writing fails.</summary>
    public event Action<UtraceException>? Failed;

    /// <summary>
    /// Creates the file now (<see cref="OutputFile.Open"/>: a bad path fails before anything is traced). With
    /// <paramref name="dropWhenBehind"/>, events that find the writer's queue full are counted as dropped (a live
    /// trace must not wait); without it, the caller waits (events made offline). <paramref name="parameter"/> names
    /// the path in errors.
    /// </summary>
    public static TraceFileWriter Create(string path, bool dropWhenBehind = true, string parameter = "-OutFile")
    {
        var (fullPath, file, created) = OutputFile.Open(path, parameter);
        return new TraceFileWriter(fullPath, file, dropWhenBehind, created);
    }

    void IEventSink.Begin(TraceContext context, TraceOrigin origin)
    {
        if (!_created)
            OutputFile.Empty(_file);
        var schema = TraceFileFormat.BuildSchema(context, origin);
        _encoder = new BatchEncoder(schema);
        _arrow = new ArrowStreamWriter(_pending, schema, leaveOpen: true);
        try
        {
            _arrow.WriteStart();
            if (context.Functions is GrowingFunctionTable growing)
            {
                (_context, _origin) = (context, origin);
                _schemaMessageBytes = WithRoom(_pending, (int)_pending.Length * 4);
                growing.Grown += RewriteSchema;
            }
            AppendPending();
        }
        catch (IOException ex)
        {
            // Nothing is traced yet: the trace fails to start.
            throw new UtraceException(TraceErrorKind.ResourceUnavailable, $"Writing the head of the trace file '{Path}' failed: {ex.Message}",
                "Free some space, or record to another disk with -OutFile.", Path, inner: ex, errorId: "OutFileNotWritten");
        }
        _sinceWrite.Start();
        _thread = new Thread(WriteChunks) { IsBackground = true, Name = "utrace trace file" };
        _thread.Start();
    }

    void IEventSink.OnEvent(in TracedCall call)
    {
        if (_failure is not null)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }
        lock (_gate)
        {
            _filling.Add(call);
            if (_filling.IsFull && !TryHandOffFilling(wait: !_dropWhenBehind))
            {
                Interlocked.Add(ref _dropped, _filling.Count);
                _filling.Clear();
            }
        }
    }

    void IEventSink.Complete()
    {
        if (_thread is null || _completed)
            return;
        _completed = true;
        lock (_gate)
        {
            if (_filling.Count > 0)
                TryHandOffFilling(wait: true);
        }
        _queue.CompleteAdding();
        _thread.Join();
        try
        {
            if (_failure is null)
            {
                _arrow!.WriteEnd();
                AppendPending();
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            _arrow!.Dispose();
            _file.Dispose();
            _queue.Dispose();
        }
    }

    /// <summary>Completes and closes the file if the trace began; a file it made for a trace that never began is deleted.</summary>
    public void Dispose()
    {
        if (_thread is not null)
        {
            ((IEventSink)this).Complete();
            return;
        }
        if (_file.IsClosed)
            return;
        _file.Dispose();
        if (_created)
            File.Delete(Path);
    }

    // Under _gate. Only the reader (or Complete) waits here: the writer thread never takes _gate
    // without a time-out, so it goes on emptying the queue.
    private bool TryHandOffFilling(bool wait)
    {
        if (wait)
            _queue.Add(_filling);
        else if (!_queue.TryAdd(_filling))
            return false;
        _filling = _free.TryDequeue(out var chunk) ? chunk : new EventChunk();
        return true;
    }

    private void WriteChunks()
    {
        while (!_queue.IsCompleted)
        {
            if (_queue.TryTake(out var chunk, FlushInterval / 4))
            {
                Write(chunk);
                chunk.Clear();
                _free.Enqueue(chunk);
            }
            if (_sinceWrite.Elapsed >= FlushInterval)
                HandOffStaleChunk();
        }
    }

    // A quiet trace fills a chunk slowly: queue what there is, behind the chunks already queued.
    private void HandOffStaleChunk()
    {
        if (!Monitor.TryEnter(_gate, 10))
            return;
        try
        {
            // A full queue is written soon anyway.
            if (_filling.Count == 0 || _queue.IsAddingCompleted || !TryHandOffFilling(wait: false))
                _sinceWrite.Restart();
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private void Write(EventChunk chunk)
    {
        if (_failure is not null)
        {
            Interlocked.Add(ref _dropped, chunk.Count);
            return;
        }
        try
        {
            _arrow!.WriteRecordBatch(_encoder!.Encode(chunk.Calls));
            AppendPending();
            Interlocked.Add(ref _written, chunk.Count);
        }
        catch (Exception ex)
        {
            // Any failure, not only I/O: an exception must not end the writer's thread (and the process).
            Interlocked.Add(ref _dropped, chunk.Count);
            Fail(ex);
        }
        _sinceWrite.Restart();
    }

    /// <summary>
    /// Pads the schema message in <paramref name="message"/> with zeros to leave room for a larger
    /// one; its length prefix covers the padding, which readers skip. Returns the message's size.
    /// </summary>
    private static int WithRoom(MemoryStream message, int atLeast)
    {
        var room = (Math.Max(GrowthRoomBytes, atLeast) + 7) & ~7;
        var length = BitConverter.ToInt32(message.GetBuffer(), 4) + room;
        message.Write(new byte[room]);
        BitConverter.TryWriteBytes(message.GetBuffer().AsSpan(4, 4), length);
        return (int)message.Length;
    }

    // Functions were appended: the head of the file gets the whole table before any event can use
    // the new ids (their probes are attached after this returns), in the room left for it.
    private void RewriteSchema()
    {
        if (_failure is not null || _completed)
            return;
        try
        {
            using var head = new MemoryStream();
            using (var writer = new ArrowStreamWriter(head, TraceFileFormat.BuildSchema(_context!, _origin!), leaveOpen: true))
                writer.WriteStart();
            var padding = _schemaMessageBytes - (int)head.Length;
            if (padding < 0)
                throw new IOException($"The function table outgrew the {_schemaMessageBytes} bytes kept for it at the head of the file ({_context!.Functions.Count} functions).");
            head.Write(new byte[padding]);
            BitConverter.TryWriteBytes(head.GetBuffer().AsSpan(4, 4), _schemaMessageBytes - 8);
            RandomAccess.Write(_file, new ReadOnlySpan<byte>(head.GetBuffer(), 0, _schemaMessageBytes), 0);
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    /// <summary>Writes what the Arrow writer produced since the last call, at the end of the file.</summary>
    private void AppendPending()
    {
        var bytes = new ReadOnlySpan<byte>(_pending.GetBuffer(), 0, (int)_pending.Length);
        _pending.SetLength(0);
        RandomAccess.Write(_file, bytes, _fileLength);
        _fileLength += bytes.Length;
    }

    /// <summary>Ends the recording with a file that reads to its last complete batch.</summary>
    private void Fail(Exception ex)
    {
        _pending.SetLength(0);
        try
        {
            // A partly written batch is cut off; the end-of-stream marker may still fit.
            RandomAccess.SetLength(_file, _fileLength);
            RandomAccess.Write(_file, TraceFileFormat.EndOfStream, _fileLength);
        }
        catch (IOException)
        {
            // The file then ends after its last batch, which readers report as cut.
        }
        _failure = new UtraceException(TraceErrorKind.ResourceUnavailable,
            $"Writing the trace file '{Path}' failed: {ex.Message} The recording stopped; the file holds the {EventsWritten} events written before.",
            "Free some space, or record to another disk with -OutFile, and trace again.", Path, inner: ex);
        var failure = _failure;
        _ = Task.Run(() => Failed?.Invoke(failure));
    }
}
