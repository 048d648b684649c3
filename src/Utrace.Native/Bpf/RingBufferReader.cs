using Microsoft.Win32.SafeHandles;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Bpf;

/// <summary>Takes the calls the events ring carries, on the reader thread.</summary>
internal interface IRecordSink
{
    void OnEvent(in EventRecord record);

    /// <summary>A capture record (arguments, a string, a return value), which comes before its call's record.</summary>
    void OnCapture(ReadOnlySpan<byte> record);

    /// <summary>A pass over the ring has ended: no more records until the next wake-up or poll.</summary>
    void OnRecordsRead();
}

/// <summary>
/// Reads records from the BPF ring buffer on a background thread and hands each one
/// to a sink. The BPF side wakes the reader only once enough data is waiting, so the thread
/// also polls on a short timeout; that bounds how late a quiet trace shows its events. An
/// eventfd in the epoll set wakes the thread at once when the trace stops.
/// The ring is mapped and read here, not through libbpf's ring_buffer__consume: that one calls
/// back through a function pointer per record and publishes the consumer position after every
/// record, a cache line the BPF program reads on every reserve; this reader publishes it once
/// per batch of records.
/// </summary>
internal sealed unsafe class RingBufferReader : IDisposable
{
    /// <summary>Longest wait before records that did not wake the reader are read anyway.</summary>
    public const int PollIntervalMs = 50;

    // The kernel's record header (linux/bpf.h): a 32-bit length with two flag bits, then 4 bytes of page offset.
    private const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    private const int HeaderBytes = 8;
    // Records read before the space they held is handed back to the kernel.
    private const int ReleaseEvery = 64;

    private readonly SafeMappedMemoryHandle _consumerPage;
    private readonly SafeMappedMemoryHandle _producerAndData;
    private readonly SafeFileHandle _epoll;
    private readonly SafeFileHandle _wake;
    private readonly IRecordSink _sink;
    private readonly Thread _thread;
    private readonly ulong* _consumerPosition;
    private readonly ulong* _producerPosition;
    private readonly byte* _data;
    private readonly ulong _mask;
    private volatile bool _stopping;
    private Exception? _failure;

    /// <param name="mapFd">The BPF_MAP_TYPE_RINGBUF map.</param>
    /// <param name="ringBytes">Its size (max_entries): a power of two, a multiple of the page size.</param>
    /// <param name="sink">Takes each call record, on the reader thread.</param>
    public RingBufferReader(int mapFd, int ringBytes, IRecordSink sink)
    {
        _sink = sink;
        var page = (nuint)Environment.SystemPageSize;
        // The kernel maps the data twice in a row, so a record that wraps reads as one piece.
        var dataMapping = page + 2 * (nuint)ringBytes;
        _consumerPage = new(Interop.Libc.Mmap(IntPtr.Zero, page, Interop.Libc.PROT_READ | Interop.Libc.PROT_WRITE, Interop.Libc.MAP_SHARED, mapFd, 0), page);
        _producerAndData = new(Interop.Libc.Mmap(IntPtr.Zero, dataMapping, Interop.Libc.PROT_READ, Interop.Libc.MAP_SHARED, mapFd, (long)page), dataMapping);
        _epoll = Interop.Libc.EpollCreate(Interop.Libc.EPOLL_CLOEXEC);
        _wake = Interop.Libc.EventFd(0, Interop.Libc.EFD_CLOEXEC | Interop.Libc.EFD_NONBLOCK);
        var readable = new Interop.Libc.EpollEvent { Events = Interop.Libc.EPOLLIN };
        using var ring = new SafeFileHandle(mapFd, ownsHandle: false);
        if (_consumerPage.IsInvalid || _producerAndData.IsInvalid || _epoll.IsInvalid || _wake.IsInvalid ||
            Interop.Libc.EpollCtl(_epoll, Interop.Libc.EPOLL_CTL_ADD, ring, ref readable) != 0 ||
            Interop.Libc.EpollCtl(_epoll, Interop.Libc.EPOLL_CTL_ADD, _wake, ref readable) != 0)
        {
            var errno = Interop.LastErrno;
            Dispose();
            throw Interop.BpfError(errno, "Mapping the event ring buffer");
        }
        _consumerPosition = (ulong*)_consumerPage.DangerousGetHandle();
        _producerPosition = (ulong*)_producerAndData.DangerousGetHandle();
        _data = (byte*)_producerAndData.DangerousGetHandle() + page;
        _mask = (ulong)ringBytes - 1;
        _thread = new Thread(Run) { IsBackground = true, Name = "utrace ring buffer" };
    }

    public void Start() => _thread.Start();

    /// <summary>Stops the thread after it has read every record still in the buffer.</summary>
    public void StopAndDrain()
    {
        StopThread();
        if (_failure is not null)
            throw new InvalidOperationException("Reading the event ring buffer failed.", _failure);
    }

    public void Dispose()
    {
        StopThread();
        _producerAndData?.Dispose();
        _consumerPage?.Dispose();
        _epoll?.Dispose();
        _wake?.Dispose();
    }

    // Also called from the constructor's failure path, before the thread exists.
    private void StopThread()
    {
        _stopping = true;
        if (_thread is not { IsAlive: true } || Thread.CurrentThread == _thread)
            return;
        ulong one = 1;
        Interop.Libc.Write(_wake, &one, sizeof(ulong));
        _thread.Join();
    }

    private void Run()
    {
        try
        {
            Interop.Libc.EpollEvent ready;
            while (!_stopping)
            {
                if (Interop.Libc.EpollWait(_epoll, &ready, 1, PollIntervalMs) < 0 && Interop.LastErrno != 4 /* EINTR */)
                    throw Interop.BpfError(Interop.LastErrno, "Waiting on the event ring buffer");
                Consume();
            }
            Consume();
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }

    private void Consume()
    {
        ReadCommitted();
        _sink.OnRecordsRead();
    }

    // Reads every committed record, in order, up to the first one still being written.
    private void ReadCommitted()
    {
        var consumer = Volatile.Read(ref *_consumerPosition);
        var unreleased = 0;
        try
        {
            for (var producer = Volatile.Read(ref *_producerPosition); consumer < producer; producer = Volatile.Read(ref *_producerPosition))
            {
                while (consumer < producer)
                {
                    var header = _data + (consumer & _mask);
                    var length = Volatile.Read(ref *(uint*)header);
                    if ((length & BusyBit) != 0)
                        return;
                    var size = length & ~(BusyBit | DiscardBit);
                    consumer += (size + HeaderBytes + 7) & ~7ul;
                    if ((length & DiscardBit) == 0)
                        Deliver(header + HeaderBytes, size);
                    if (++unreleased == ReleaseEvery)
                    {
                        Volatile.Write(ref *_consumerPosition, consumer);
                        unreleased = 0;
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref *_consumerPosition, consumer);
        }
    }

    private void Deliver(byte* record, uint size)
    {
        // Every record starts with its type (bpf/utrace.h).
        if (size >= (uint)sizeof(EventRecord) && *(RecordType*)record is RecordType.Call or RecordType.Entry)
            _sink.OnEvent(in *(EventRecord*)record);
        else if (size >= sizeof(RecordType) && *(RecordType*)record is RecordType.Arguments or RecordType.String or RecordType.ReturnValue)
            _sink.OnCapture(new ReadOnlySpan<byte>(record, (int)size));
    }
}
