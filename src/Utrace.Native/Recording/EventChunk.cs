using Utrace.Native.Bpf;

namespace Utrace.Native.Recording;

/// <summary>Records copied off the ring buffer, waiting to become one record batch.</summary>
internal sealed class EventChunk
{
    public const int Capacity = 16_384;

    private readonly EventRecord[] _records = new EventRecord[Capacity];
    private readonly CapturedCall?[] _captured = new CapturedCall?[Capacity];

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    public ReadOnlySpan<EventRecord> Records => _records.AsSpan(0, Count);

    /// <summary>What was captured of each record's call, or null; parallel to <see cref="Records"/>.</summary>
    public ReadOnlySpan<CapturedCall?> Captured => _captured.AsSpan(0, Count);

    public void Add(in EventRecord record, CapturedCall? captured)
    {
        _captured[Count] = captured;
        _records[Count++] = record;
    }

    public void Clear()
    {
        _captured.AsSpan(0, Count).Clear();
        Count = 0;
    }
}
