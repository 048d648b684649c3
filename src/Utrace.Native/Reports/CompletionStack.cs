namespace Utrace.Native.Reports;

/// <summary>
/// One thread's calls arrive in completion order: a callee before its caller. This holds what
/// the completed calls of each depth have accumulated until the caller that encloses them
/// completes and takes it. Values sit at strictly increasing depths (siblings are merged), so
/// it holds at most one value per depth, whatever the number of calls. Each level keeps the
/// earliest start among its calls: a call that began before the one completing is not inside
/// it, whatever its depth (its own caller was unwound by an exception or a longjmp).
/// </summary>
internal sealed class CompletionStack<T>
{
    private readonly List<(int Depth, long StartNs, T Value)> _levels = [];
    private readonly Func<T, T, T> _merge;

    /// <param name="merge">Combines two values of the same depth (siblings) into one.</param>
    public CompletionStack(Func<T, T, T> merge) => _merge = merge;

    public bool IsEmpty => _levels.Count == 0;

    /// <summary>
    /// Removes the values deeper than <paramref name="depth"/> that started at
    /// <paramref name="startNs"/> or later: what a call completing at that depth, begun then,
    /// encloses (nested calls, and deeper ones whose own caller was not reported). Deeper values
    /// that started earlier are its siblings now, merged at its depth.
    /// </summary>
    public void TakeDeeperThan(int depth, long startNs, List<T> into)
    {
        into.Clear();
        var keep = _levels.Count;
        while (keep > 0 && _levels[keep - 1].Depth > depth)
            keep--;
        List<(int Depth, long StartNs, T Value)>? orphans = null;
        for (var i = keep; i < _levels.Count; i++)
        {
            if (_levels[i].StartNs >= startNs)
                into.Add(_levels[i].Value);
            else
                (orphans ??= []).Add(_levels[i]);
        }
        _levels.RemoveRange(keep, _levels.Count - keep);
        foreach (var orphan in orphans ?? [])
            Put(depth, orphan.StartNs, orphan.Value);
    }

    /// <summary>Adds the value of a call completed at <paramref name="depth"/>, after its children were taken.</summary>
    public void Put(int depth, long startNs, T value)
    {
        if (_levels.Count > 0 && _levels[^1].Depth == depth)
            _levels[^1] = (depth, Math.Min(startNs, _levels[^1].StartNs), _merge(_levels[^1].Value, value));
        else
            _levels.Add((depth, startNs, value));
    }

    /// <summary>Removes everything left: calls whose callers never completed (the trace ended first).</summary>
    public IEnumerable<T> Drain()
    {
        var values = _levels.ConvertAll(level => level.Value);
        _levels.Clear();
        return values;
    }
}
