namespace Utrace.Native.Reports;

/// <summary>
/// Process ids for viewers that know one machine: the first host's processes keep theirs, the
/// next hosts' are moved up by a multiple of 2^22 (Linux process ids stay below it), so that no
/// two processes of a trace read from several hosts share a pid.
/// </summary>
internal sealed class HostProcessIds
{
    private const int HostPidStride = 1 << 22;

    // Hosts in the order they come; a trace rarely has more than a few.
    private readonly List<string> _hosts = [];

    /// <summary>The call's process id as the viewer shows it; <paramref name="firstHost"/> tells whether its host came first.</summary>
    public int Of(in TracedCall call, out bool firstHost)
    {
        var host = _hosts.IndexOf(call.ComputerName);
        if (host < 0)
        {
            _hosts.Add(call.ComputerName);
            host = _hosts.Count - 1;
        }
        firstHost = host == 0;
        return call.ProcessId + host * HostPidStride;
    }
}
