using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Utrace.Native.Tracing;

/// <summary>
/// bpf/utrace-guard, the process that writes the stack patches C++ unwinding needs and
/// continues the process the BPF side stopped for them. It runs apart from the tracer so that
/// no process stays stopped if the tracer dies; see utrace-guard.c.
/// </summary>
internal sealed partial class PatchGuard : IDisposable
{
    private const string GuardName = "utrace-guard";
    private readonly Process _process;

    private PatchGuard(Process process) => _process = process;

    /// <summary>Patches written, once the guard has ended.</summary>
    public long Applied { get; private set; }

    /// <summary>Patches that could not be written (the process was gone), once the guard has ended.</summary>
    public long Failed { get; private set; }

    /// <summary>
    /// Starts a guard for process <paramref name="pid"/>, given the patches ring's and the call
    /// stacks' map fds, and the links of the unwinder hooks, which the guard holds until it has
    /// taken the trampolines off the process's stacks: a dying tracer must not take them along.
    /// </summary>
    public static PatchGuard Start(int ringFd, int stacksFd, int pid, IReadOnlyList<int> unwindLinkFds)
    {
        var guard = HelperProgram.Locate(GuardName, "exception guard");
        // Only these copies lack close-on-exec, so the guard inherits them and nothing else of ours.
        var inherited = new[] { ringFd, stacksFd }.Concat(unwindLinkFds)
            .Select(fd => Interop.Libc.Fcntl(fd, Interop.Libc.F_DUPFD, 3)).ToArray();
        try
        {
            if (inherited.Any(fd => fd < 0))
                throw Interop.BpfError(Interop.LastErrno, "Sharing the patches ring with utrace-guard");
            var info = new ProcessStartInfo(guard)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
            };
            HelperProgram.IsolateFromLoaderVariables(info.Environment, forProgram: false);
            foreach (var argument in inherited.Take(2).Append(pid).Concat(inherited.Skip(2)))
                info.ArgumentList.Add(argument.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return new PatchGuard(Process.Start(info)!);
        }
        finally
        {
            foreach (var fd in inherited.Where(fd => fd >= 0))
                Interop.Libc.Close(fd);
        }
    }

    /// <summary>
    /// Call once the probes are detached: the guard serves what is left, takes the trampolines
    /// off the stacks of the process and of <paramref name="followers"/> (-Follow), and exits.
    /// </summary>
    public void Finish(IEnumerable<int>? followers = null)
    {
        if (_process.HasExited)
            return;
        try
        {
            _process.StandardInput.Write($"q {string.Join(' ', followers ?? [])}");
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It has exited already.
        }
        var report = _process.StandardOutput.ReadToEnd();
        _process.WaitForExit();
        if (ReportPattern().Match(report) is { Success: true } match)
        {
            Applied = long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Failed = long.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public void Dispose()
    {
        Finish();
        _process.Dispose();
    }

    [GeneratedRegex(@"applied (\d+) failed (\d+)")]
    private static partial Regex ReportPattern();
}
