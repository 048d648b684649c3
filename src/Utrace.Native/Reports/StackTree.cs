using Utrace.Native.Elf;

namespace Utrace.Native.Reports;

/// <summary>
/// The merged call stacks of a trace: one node per distinct stack (main;a;b), weighted by self
/// time, built as calls arrive. Memory grows with the distinct stacks, not with the calls:
/// a thread's pending subtrees merge into the tree as soon as their outermost call completes.
/// </summary>
internal sealed class StackTree
{
    private readonly Dictionary<ThreadKey, CompletionStack<Frame>> _threads = [];
    private readonly List<Frame> _taken = [];

    /// <summary>The root: no function, its children are the outermost calls.</summary>
    public Frame Root { get; } = new("");

    public void Add(in TracedCall call)
    {
        if (!_threads.TryGetValue(call.ThreadKey, out var pending))
            _threads.Add(call.ThreadKey, pending = new CompletionStack<Frame>(Frame.MergeChildren));

        // A pending value is a forest: an unnamed frame whose children are completed calls.
        pending.TakeDeeperThan(call.Depth, call.StartNs, _taken);
        var frame = new Frame(call.Function) { SelfNs = call.SelfNs, Source = call.Source };
        foreach (var forest in _taken)
            Frame.MergeChildren(frame, forest);

        if (call.Depth == 0)
        {
            Root.Merge(frame);
            return;
        }
        var holder = new Frame("");
        holder.Merge(frame);
        pending.Put(call.Depth, call.StartNs, holder);
    }

    /// <summary>Adds what is still pending (calls whose callers never completed) as outermost stacks.</summary>
    public StackTree Complete()
    {
        foreach (var pending in _threads.Values)
            foreach (var forest in pending.Drain())
                Frame.MergeChildren(Root, forest);
        return this;
    }

    /// <summary>"main;a;b 1234" (self ns) for each stack with self time, sorted, as flamegraph.pl, inferno and speedscope read.</summary>
    public IEnumerable<string> ToFolded()
    {
        var lines = new List<string>();
        foreach (var child in Root.Children)
            Fold(child, child.Name.Replace(';', ':'), lines);
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static void Fold(Frame frame, string stack, List<string> lines)
    {
        if (frame.SelfNs > 0)
            lines.Add($"{stack} {frame.SelfNs}");
        foreach (var child in frame.Children)
            Fold(child, $"{stack};{child.Name.Replace(';', ':')}", lines);
    }

    internal sealed class Frame(string name)
    {
        private readonly Dictionary<string, Frame> _children = new(StringComparer.Ordinal);

        public string Name { get; } = name;
        public long SelfNs { get; set; }

        /// <summary>The function's source file and line, from debug info; null without.</summary>
        public SourceLocation? Source { get; init; }
        public IEnumerable<Frame> Children => _children.Values;

        /// <summary>Self time of this frame and everything under it.</summary>
        public long TotalNs => SelfNs + _children.Values.Sum(c => c.TotalNs);

        /// <summary>Adds <paramref name="frame"/> as a child, merging it into the child of the same name.</summary>
        public void Merge(Frame frame)
        {
            if (!_children.TryGetValue(frame.Name, out var existing))
            {
                _children.Add(frame.Name, frame);
                return;
            }
            existing.SelfNs += frame.SelfNs;
            MergeChildren(existing, frame);
        }

        public static Frame MergeChildren(Frame into, Frame from)
        {
            foreach (var child in from._children.Values)
                into.Merge(child);
            return into;
        }
    }
}
