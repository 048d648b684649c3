using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
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
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

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
    /// Creates the file now, mode 0640 and, under sudo, owned by the invoking user, so a bad path
    /// fails before anything is traced. A file that exists keeps its owner and loses any right beyond
    /// 0640; it is emptied only when the trace begins, never deleted. A device, a pipe or a program is
    /// never written over. With <paramref name="dropWhenBehind"/>,
    /// events that find the writer's queue full are counted as dropped (a live trace must not
    /// wait); without it, the caller waits (events made offline).
    /// </summary>
    public static TraceFileWriter Create(string path, bool dropWhenBehind = true)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"Cannot create the trace file '{fullPath}': it is a folder.",
                "Give -OutFile the path of a file in that folder.", fullPath, errorId: "OutFileIsFolder");
        SafeFileHandle file;
        var created = true;
        try
        {
            try
            {
                file = File.OpenHandle(fullPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
            }
            catch (IOException) when (File.Exists(fullPath))
            {
                file = File.OpenHandle(fullPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
                created = false;
            }
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new UtraceException(TraceErrorKind.NotFound, $"Cannot create the trace file '{fullPath}': its folder does not exist.",
                "Create the folder first, or give -OutFile a path in an existing folder.", fullPath, inner: ex, errorId: "OutFileFolderNotFound");
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException || ex.HResult == Interop.EROFS)
        {
            throw new UtraceException(TraceErrorKind.PermissionDenied, $"Cannot create the trace file '{fullPath}': {ex.Message}",
                "Write the trace to a folder you can write to, or check that the path is not a folder.", fullPath, inner: ex, errorId: "OutFileAccessDenied");
        }
        catch (IOException ex)
        {
            throw new UtraceException(TraceErrorKind.ResourceUnavailable, $"Cannot create the trace file '{fullPath}': {ex.Message}",
                "Check the path, the free space and the permissions of its folder.", fullPath, inner: ex, errorId: "OutFileNotCreated");
        }
        try
        {
            if (created)
                MakePrivate(file);
            else
                RefuseToOverwrite(file, fullPath);
        }
        catch
        {
            file.Dispose();
            if (created)
                File.Delete(fullPath);
            throw;
        }
        return new TraceFileWriter(fullPath, file, dropWhenBehind, created);
    }

    void IEventSink.Begin(TraceContext context, TraceOrigin origin)
    {
        if (!_created)
        {
            // A trace may hold captured strings: the file it replaces loses any right beyond 0640, keeps its owner.
            RandomAccess.SetLength(_file, 0);
            File.SetUnixFileMode(_file, File.GetUnixFileMode(_file) & Private);
        }
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

    private const string ReplaceableFileHint = "Give -OutFile the path of a new file, or of a trace file to replace.";

    // An existing file is replaced only if it is a regular file and no program: a trace written over
    // /dev/null or the traced binary would harm the machine, not record anything.
    private static void RefuseToOverwrite(SafeFileHandle file, string path)
    {
        if (Interop.Libc.FileMode(file) is { } mode && (mode & Interop.Libc.S_IFMT) != Interop.Libc.S_IFREG)
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"Cannot write the trace file over '{path}': it is not a regular file (a device, a pipe or a socket).",
                ReplaceableFileHint, path, errorId: "OutFileNotRegular");
        Span<byte> magic = stackalloc byte[4];
        if (RandomAccess.Read(file, magic, 0) == magic.Length && magic.SequenceEqual("\u007fELF"u8))
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"Cannot write the trace file over '{path}': it is a program or library (an ELF file).",
                ReplaceableFileHint, path, errorId: "OutFileIsProgram");
    }

    private static void MakePrivate(SafeFileHandle file)
    {
        File.SetUnixFileMode(file, Private);
        if (!Environment.IsPrivilegedProcess
            || !uint.TryParse(Environment.GetEnvironmentVariable("SUDO_UID"), out var uid)
            || !uint.TryParse(Environment.GetEnvironmentVariable("SUDO_GID"), out var gid))
            return;
        if (Interop.Libc.FChown(file, uid, gid) != 0)
            throw new UtraceException(TraceErrorKind.PermissionDenied,
                $"Cannot give the trace file to the user who ran sudo (uid {uid}): {Marshal.GetPInvokeErrorMessage(Interop.LastErrno)}.",
                "Write the trace to a local folder (some network file systems refuse chown).", errorId: "OutFileOwnerNotSet");
    }
}
