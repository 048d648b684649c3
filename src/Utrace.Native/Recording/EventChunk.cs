namespace Utrace.Native.Recording;

/// <summary>Calls taken off the ring buffer, waiting to become one record batch.</summary>
internal sealed class EventChunk
{
    public const int Capacity = 16_384;

    private readonly TracedCall[] _calls = new TracedCall[Capacity];

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    public ReadOnlySpan<TracedCall> Calls => _calls.AsSpan(0, Count);

    public void Add(in TracedCall call) => _calls[Count++] = call;

    // Cleared, not only counted down: the calls hold their captures and contexts.
    public void Clear()
    {
        _calls.AsSpan(0, Count).Clear();
        Count = 0;
    }
}
