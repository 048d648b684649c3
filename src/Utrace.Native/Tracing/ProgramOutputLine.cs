namespace Utrace.Native.Tracing;

/// <summary>One line a launched program wrote, when its output is captured rather than shared (<see cref="TraceOptions.ProgramOutput"/>).</summary>
internal readonly record struct ProgramOutputLine(string Text, bool IsError);
