using System.Collections.Concurrent;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>The traces running in this PowerShell process, by id: what Stop-UTrace -TraceId, -All and the -TraceId completer find.</summary>
internal static class TraceRegistry
{
    private static readonly ConcurrentDictionary<int, TraceSession> Sessions = new();
    private static int _lastId;

    /// <summary>The id for the next trace (TraceOptions.TraceId).</summary>
    public static int NextId() => Interlocked.Increment(ref _lastId);

    /// <summary>Lists a started trace until it ends.</summary>
    public static void Add(TraceSession session)
    {
        Sessions[session.Id] = session;
        session.Completion.ContinueWith(_ => Sessions.TryRemove(session.Id, out TraceSession? _), TaskScheduler.Default);
    }

    /// <summary>Traces that have not ended, by id.</summary>
    public static IReadOnlyCollection<TraceSession> Active =>
        Sessions.Values.Where(session => session.State == TraceState.Running).OrderBy(session => session.Id).ToArray();

    public static TraceSession? Find(int id) =>
        Sessions.TryGetValue(id, out var session) && session.State == TraceState.Running ? session : null;
}
