using Utrace.Native.Bpf;

namespace Utrace.Native.Recording;

/// <summary>Records copied off the ring buffer, waiting to become one record batch.</summary>
internal sealed class EventChunk
{
    public const int Capacity = 16_384;

    private readonly EventRecord[] _records = new EventRecord[Capacity];

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    public ReadOnlySpan<EventRecord> Records => _records.AsSpan(0, Count);

    public void Add(in EventRecord record) => _records[Count++] = record;

    public void Clear() => Count = 0;
}
