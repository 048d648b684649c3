using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Bpf;

/// <summary>Takes the calls the events ring carries, on the reader thread.</summary>
internal interface IRecordSink
{
    void OnEvent(in EventRecord record);

    /// <summary>A capture record (arguments, a string, a return value), which comes before its call's record.</summary>
    void OnCapture(ReadOnlySpan<byte> record);

    /// <summary>A fork, exec, exit or library change of a traced process (bpf/utrace-follow.bpf.c).</summary>
    void OnProcessEvent(in ProcessRecord record);
}

/// <summary>
/// Reads records from the BPF ring buffer on a background thread and hands each one
/// to a sink. The BPF side wakes the reader only once enough data is waiting, so the thread
/// also polls on a short timeout; that bounds how late a quiet trace shows its events. An
/// eventfd in the ring buffer's epoll set wakes the thread at once when the trace stops.
/// </summary>
internal sealed unsafe class RingBufferReader : IDisposable
{
    /// <summary>Longest wait before records that did not wake the reader are read anyway.</summary>
    public const int PollIntervalMs = 50;

    private readonly SafeRingBufferHandle _ring;
    private readonly SafeFileHandle _wake;
    private readonly IRecordSink _sink;
    private readonly Thread _thread;
    private GCHandle _self;
    private volatile bool _stopping;
    private Exception? _failure;

    public RingBufferReader(int mapFd, IRecordSink sink)
    {
        _sink = sink;
        _self = GCHandle.Alloc(this);
        _ring = Interop.Libbpf.RingBufferNew(mapFd, &OnSample, GCHandle.ToIntPtr(_self), IntPtr.Zero);
        if (_ring.IsInvalid)
        {
            var errno = Interop.LastErrno;
            _self.Free();
            throw Interop.BpfError(errno, "Opening the event ring buffer");
        }
        _wake = Interop.Libc.EventFd(0, Interop.Libc.EFD_CLOEXEC | Interop.Libc.EFD_NONBLOCK);
        // libbpf takes an epoll event's data as a ring index: 0 makes the wake-up read ring 0, harmlessly.
        var wakeUp = new Interop.Libc.EpollEvent { Events = Interop.Libc.EPOLLIN, Data = 0 };
        if (_wake.IsInvalid || Interop.Libc.EpollCtl(Interop.Libbpf.RingBufferEpollFd(_ring), Interop.Libc.EPOLL_CTL_ADD, _wake, ref wakeUp) != 0)
        {
            var errno = Interop.LastErrno;
            Dispose();
            throw Interop.BpfError(errno, "Setting up the ring buffer's wake-up");
        }
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
        _ring.Dispose();
        _wake?.Dispose();
        if (_self.IsAllocated)
            _self.Free();
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
            while (!_stopping && _failure is null)
            {
                // A failing sink also makes the poll fail; its own exception is the one to keep.
                if (Interop.Libbpf.RingBufferPoll(_ring, PollIntervalMs) < 0 && _failure is null && Interop.LastErrno != 4 /* EINTR */)
                    throw Interop.BpfError(Interop.LastErrno, "Polling the event ring buffer");
                Interop.Libbpf.RingBufferConsume(_ring);
            }
            if (_failure is null)
                Interop.Libbpf.RingBufferConsume(_ring);
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnSample(IntPtr context, IntPtr data, nuint size)
    {
        var reader = (RingBufferReader)GCHandle.FromIntPtr(context).Target!;
        try
        {
            // Every record starts with its type (bpf/utrace.h).
            if (size >= (nuint)sizeof(EventRecord) && *(RecordType*)data is RecordType.Call or RecordType.Entry)
                reader._sink.OnEvent(in *(EventRecord*)data);
            else if (size >= sizeof(RecordType) && *(RecordType*)data is RecordType.Arguments or RecordType.String or RecordType.ReturnValue)
                reader._sink.OnCapture(new ReadOnlySpan<byte>((void*)data, (int)size));
            else if (size >= (nuint)sizeof(ProcessRecord) && *(RecordType*)data is RecordType.Process)
                reader._sink.OnProcessEvent(in *(ProcessRecord*)data);
            return 0;
        }
        catch (Exception ex)
        {
            // An exception must not cross into libbpf: stop consuming and report it on StopAndDrain.
            reader._failure = ex;
            return -1;
        }
    }
}
