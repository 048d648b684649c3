namespace Utrace.Native.Tracing;

internal enum TraceStage
{
    Attaching,
    Detaching,
}

/// <summary>How far attaching or detaching has got: <see cref="Done"/> of <see cref="Total"/> probe links.</summary>
internal readonly record struct TraceProgress(TraceStage Stage, int Done, int Total);
