namespace Utrace;

/// <summary>Whether a call was reported with its duration, or at its entry without one.</summary>
internal enum CallKind : byte
{
    /// <summary>Reported when it returned: it has a duration and a self time.</summary>
    Timed = 0,

    /// <summary>
    /// Reported at its entry, with no duration (entry-only tracing, or a function such as setjmp
    /// that must not get a return probe).
    /// </summary>
    EntryOnly = 1,
}
