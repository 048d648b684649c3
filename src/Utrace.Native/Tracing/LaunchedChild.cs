using System.Diagnostics;

namespace Utrace.Native.Tracing;

/// <summary>
/// A command started through bpf/utrace-launch: the child waits, with its final pid, until the
/// probes are attached, then execs the program. It shares the console's stdin, stdout and stderr.
/// </summary>
internal sealed class LaunchedChild : IDisposable
{
    private const string LauncherName = "utrace-launch";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);
    private readonly Process _process;

    private LaunchedChild(Process process) => _process = process;

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The program's exit code; 128 + N when signal N ended it.</summary>
    public int ExitCode => _process.ExitCode;

    public Task WaitForExitAsync() => _process.WaitForExitAsync();

    public static LaunchedChild Start(string program, string argv0, IReadOnlyList<string> arguments, string workingDirectory)
    {
        var launcher = Path.Combine(Path.GetDirectoryName(typeof(LaunchedChild).Assembly.Location)!, LauncherName);
        if (!File.Exists(launcher))
            throw new UtraceException(TraceErrorKind.NotFound, $"The launcher {launcher} is missing.",
                "Rebuild Utrace (scripts/setup.sh).", launcher);
        var info = new ProcessStartInfo(launcher) { UseShellExecute = false, WorkingDirectory = workingDirectory };
        info.ArgumentList.Add(program);
        info.ArgumentList.Add(argv0);
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        var child = new LaunchedChild(Process.Start(info)!);
        try
        {
            child.WaitUntilReady();
            return child;
        }
        catch
        {
            child.Terminate();
            child.Dispose();
            throw;
        }
    }

    /// <summary>Lets the child exec the program.</summary>
    public void Release()
    {
        if (Interop.Libc.Kill(ProcessId, Interop.Libc.SIGUSR1) != 0)
            throw new UtraceException(TraceErrorKind.ProcessNotFound, $"The launched process {ProcessId} went away before it could start.",
                null, ProcessId, Interop.LastErrno);
    }

    /// <summary>Asks the child to end, then kills it if it has not within half a second.</summary>
    public void Terminate()
    {
        if (_process.HasExited)
            return;
        Interop.Libc.Kill(ProcessId, Interop.Libc.SIGTERM);
        if (!_process.WaitForExit(500))
            Interop.Libc.Kill(ProcessId, Interop.Libc.SIGKILL);
        _process.WaitForExit(1000);
    }

    public void Dispose() => _process.Dispose();

    /// <summary>Ready once the launcher catches SIGUSR1, so the signal cannot kill it.</summary>
    private void WaitUntilReady()
    {
        const ulong sigusr1Bit = 1UL << (Interop.Libc.SIGUSR1 - 1);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < ReadyTimeout)
        {
            if (_process.HasExited)
                throw new UtraceException(TraceErrorKind.OperationFailed,
                    $"The launcher exited with code {_process.ExitCode} before the program started.", null, ProcessId);
            if ((CaughtSignals() & sigusr1Bit) != 0)
                return;
            Thread.Sleep(1);
        }
        throw new UtraceException(TraceErrorKind.OperationFailed, "The launcher did not get ready in time.", null, ProcessId);
    }

    private ulong CaughtSignals()
    {
        try
        {
            var line = File.ReadLines($"/proc/{ProcessId}/status").FirstOrDefault(l => l.StartsWith("SigCgt:", StringComparison.Ordinal));
            return line is null ? 0 : Convert.ToUInt64(line[7..].Trim(), 16);
        }
        catch (IOException)
        {
            return 0; // exited meanwhile: the loop reports it
        }
    }
}
