namespace Utrace;

/// <summary>What was traced, where and when: stored in a trace file beside the function table.</summary>
public sealed record TraceOrigin
{
    /// <summary>The traced command line.</summary>
    public string Command { get; init; } = "";

    /// <summary>The traced processes (one today; exec'd and forked children will add more).</summary>
    public IReadOnlyList<int> ProcessIds { get; init; } = [];

    public string HostName { get; init; } = "";

    /// <summary>The kernel release of the traced machine (uname -r).</summary>
    public string KernelRelease { get; init; } = "";

    /// <summary>The origin of a trace of <paramref name="processId"/> running <paramref name="command"/> on this machine.</summary>
    public static TraceOrigin Here(string command, int processId) => new()
    {
        Command = command,
        ProcessIds = [processId],
        HostName = Environment.MachineName,
        KernelRelease = File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
    };
}
