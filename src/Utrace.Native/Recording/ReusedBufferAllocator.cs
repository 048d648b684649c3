using System.Buffers;
using Apache.Arrow.Memory;

namespace Utrace.Native.Recording;

/// <summary>
/// Gives Arrow's reader managed buffers back from the batches it has disposed. The default
/// allocator takes native memory for every record batch and reports it to the GC as memory
/// pressure: about a seventh of the time of summarizing a trace file went there.
/// </summary>
internal sealed class ReusedBufferAllocator : MemoryAllocator
{
    private readonly Stack<byte[]> _free = new();

    protected override IMemoryOwner<byte> AllocateInternal(int length, out int bytesAllocated)
    {
        byte[]? buffer = null;
        lock (_free)
        {
            // A trace file's batches are all about the same size: take a free one if it fits.
            if (_free.TryPeek(out var top) && top.Length >= length)
                buffer = _free.Pop();
        }
        buffer ??= GC.AllocateUninitializedArray<byte>(length);
        bytesAllocated = buffer.Length;
        return new Lease(this, buffer, length);
    }

    private void Return(byte[] buffer)
    {
        lock (_free)
        {
            // Holding one or two is enough: the reader disposes each batch before reading the next.
            if (_free.Count < 2)
                _free.Push(buffer);
        }
    }

    private sealed class Lease(ReusedBufferAllocator owner, byte[] buffer, int length) : IMemoryOwner<byte>
    {
        private byte[]? _buffer = buffer;

        public Memory<byte> Memory => _buffer is { } b ? b.AsMemory(0, length) : throw new ObjectDisposedException(nameof(Lease));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _buffer, null) is { } b)
                owner.Return(b);
        }
    }
}
