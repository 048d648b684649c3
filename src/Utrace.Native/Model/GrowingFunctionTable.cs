using System.Collections;

namespace Utrace;

/// <summary>
/// A trace's function table while it may still grow (-Follow, libraries loaded later): append
/// only, ids never change, and readers on other threads index it without a lock. An id reaches
/// a reader only from a probe attached after its function was appended, so it is always there.
/// </summary>
public sealed class GrowingFunctionTable : IReadOnlyList<FunctionInfo>
{
    private readonly object _appendLock = new();
    private volatile FunctionInfo[] _items;

    internal GrowingFunctionTable(IReadOnlyList<FunctionInfo> initial) => _items = initial.ToArray();

    public int Count => _items.Length;

    public FunctionInfo this[int index] => _items[index];

    /// <summary>Raised after functions were appended, on the appending thread.</summary>
    internal event Action? Grown;

    /// <summary>Appends <paramref name="functions"/> and returns the id of the first one.</summary>
    internal int Append(IReadOnlyList<FunctionInfo> functions)
    {
        int first;
        lock (_appendLock)
        {
            first = _items.Length;
            // A new array each time: a reader holding the old one still sees every id it can be given.
            _items = [.. _items, .. functions];
        }
        Grown?.Invoke();
        return first;
    }

    public IEnumerator<FunctionInfo> GetEnumerator() => ((IEnumerable<FunctionInfo>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
