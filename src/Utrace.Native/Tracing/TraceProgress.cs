namespace Utrace.Native.Tracing;

public enum TraceStage
{
    Attaching,
    Detaching,
}

/// <summary>How far attaching or detaching has got: <see cref="Done"/> of <see cref="Total"/> probe links.</summary>
public readonly record struct TraceProgress(TraceStage Stage, int Done, int Total);
