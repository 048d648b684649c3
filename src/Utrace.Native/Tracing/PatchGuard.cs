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

    /// <summary>Starts a guard on the patches ring whose map fd is <paramref name="ringFd"/>.</summary>
    public static PatchGuard Start(int ringFd)
    {
        var guard = Path.Combine(Path.GetDirectoryName(typeof(PatchGuard).Assembly.Location)!, GuardName);
        if (!File.Exists(guard))
            throw new UtraceException(TraceErrorKind.NotFound, $"The exception guard {guard} is missing.",
                "Rebuild Utrace (scripts/setup.sh).", guard);
        // Only this copy lacks close-on-exec, so the guard inherits the ring and nothing else of ours.
        var inherited = Interop.Libc.Fcntl(ringFd, Interop.Libc.F_DUPFD, 3);
        if (inherited < 0)
            throw Interop.BpfError(Interop.LastErrno, "Sharing the patches ring with utrace-guard");
        try
        {
            var info = new ProcessStartInfo(guard)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
            };
            info.ArgumentList.Add(inherited.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return new PatchGuard(Process.Start(info)!);
        }
        finally
        {
            Interop.Libc.Close(inherited);
        }
    }

    /// <summary>Call once the probes are detached: the guard serves what is left and exits.</summary>
    public void Finish()
    {
        if (_process.HasExited)
            return;
        try
        {
            _process.StandardInput.Write('q');
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
