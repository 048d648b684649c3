using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Bpf;

/// <summary>
/// Reads event records from the BPF ring buffer on a background thread and hands each one
/// to a sink. The BPF side wakes the reader only once enough data is waiting, so the thread
/// also polls on a short timeout; that bounds how late a quiet trace shows its events.
/// </summary>
internal sealed unsafe class RingBufferReader : IDisposable
{
    /// <summary>Longest wait before records that did not wake the reader are read anyway.</summary>
    public const int PollIntervalMs = 50;

    public delegate void RecordSink(in EventRecord record);

    private readonly SafeRingBufferHandle _ring;
    private readonly RecordSink _sink;
    private readonly Thread _thread;
    private GCHandle _self;
    private volatile bool _stopping;
    private Exception? _failure;

    public RingBufferReader(int mapFd, RecordSink sink)
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
        _thread = new Thread(Run) { IsBackground = true, Name = "utrace ring buffer" };
    }

    public void Start() => _thread.Start();

    /// <summary>Stops the thread after it has read every record still in the buffer.</summary>
    public void StopAndDrain()
    {
        _stopping = true;
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
            _thread.Join();
        if (_failure is not null)
            throw new InvalidOperationException("Reading the event ring buffer failed.", _failure);
    }

    public void Dispose()
    {
        _stopping = true;
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
            _thread.Join();
        _ring.Dispose();
        if (_self.IsAllocated)
            _self.Free();
    }

    private void Run()
    {
        try
        {
            while (!_stopping && _failure is null)
            {
                if (Interop.Libbpf.RingBufferPoll(_ring, PollIntervalMs) < 0 && Interop.LastErrno != 4 /* EINTR */)
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
        if (size < (nuint)sizeof(EventRecord))
            return 0;
        var reader = (RingBufferReader)GCHandle.FromIntPtr(context).Target!;
        try
        {
            reader._sink(in *(EventRecord*)data);
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
