using System.Diagnostics;

namespace Utrace.Tests.EndToEnd;

/// <summary>What /proc says of a traced program, for tests that wait until it has ended.</summary>
internal static class TracedProcess
{
    /// <summary>The state letter of /proc/PID/stat (R, S, T for stopped, Z for a zombie...), or "gone".</summary>
    public static string State(int pid)
    {
        if (pid == 0)
            return "gone";
        try
        {
            // The state is the field after "(comm)".
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
        }
        catch (IOException)
        {
            return "gone";
        }
    }

    /// <summary>Waits, up to <paramref name="patience"/>, until the process is gone or a zombie.</summary>
    public static bool WaitForExit(int pid, TimeSpan patience)
    {
        var clock = Stopwatch.StartNew();
        while (State(pid) is not ("gone" or "Z"))
        {
            if (clock.Elapsed > patience)
                return false;
            Thread.Sleep(10);
        }
        return true;
    }
}
