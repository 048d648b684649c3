namespace Utrace;

/// <summary>How probes are attached.</summary>
public enum AttachMode
{
    /// <summary>
    /// Session links where the kernel has them (6.13 and later), calls are timed by return probes and the
    /// trace drops calls at entry (-ThreadId, -MaxDepth); else multi-uprobe links (6.6 and later), else
    /// per-function uprobes.
    /// </summary>
    Auto,
    /// <summary>Two links per binary, whatever the number of functions.</summary>
    MultiLink,
    /// <summary>Two perf-event uprobes per function: works on older kernels, costs two fds per function.</summary>
    PerFunction,
    /// <summary>
    /// One uprobe session link per binary (Linux 6.13): one program sees a call's entry and return, and
    /// a call it drops at entry gets no return probe. Only with return probes (-ReturnMode Uretprobe).
    /// </summary>
    Session,
}
