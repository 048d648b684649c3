namespace Utrace;

/// <summary>A function a trace stopped probing because its probes went over -ProbeBudget.</summary>
/// <param name="Function">The function's name, as its calls give it.</param>
/// <param name="Time">When it was dropped.</param>
/// <param name="Calls">Its calls until then, every one of them reported.</param>
/// <param name="ProbeSharePercent">
/// What its probes had cost until then, as a share of the program's own CPU time (its CPU time while traced, less every probe's cost):
/// it can be well over 100.
/// </param>
public sealed record DroppedFunction(string Function, DateTime Time, long Calls, double ProbeSharePercent);
