using System.Diagnostics;
using System.Globalization;
using Utrace.Native.Bpf;
using Utrace.Native.Elf;

namespace Utrace.Native.Tracing;

/// <summary>
/// A command started through bpf/utrace-launch: the child waits, with its final pid, until the
/// probes are attached, then execs the program. A dynamically linked program is held once more
/// where its dynamic linker has loaded its libraries, before any of their code runs, so that they
/// are read from the process as the linker chose them. It shares the console's stdin, stdout and
/// stderr, unless its output is captured line by line (then its stdin is empty).
/// </summary>
internal sealed class LaunchedChild : IDisposable
{
    private const string LauncherName = "utrace-launch";
    private const int RunAsFailedExit = 125;
    private const int NotExecutableExit = 126;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private bool _heldAtLibraries;

    private LaunchedChild(Process process) => _process = process;

    /// <summary>The execs of the child still to come before the program runs: 1 while the launcher waits, 0 once held after it.</summary>
    public uint ExecsToCome => _heldAtLibraries ? 0u : 1u;

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The program's exit code; 128 + N when signal N ended it.</summary>
    public int ExitCode => _process.ExitCode;

    public Task WaitForExitAsync() => _process.WaitForExitAsync();

    /// <summary>
    /// Starts the launcher, as <paramref name="runAs"/> when given, and waits until it is ready;
    /// with <paramref name="output"/>, the program's stdout and stderr lines go there.
    /// </summary>
    /// <exception cref="UtraceException">The launcher is missing, or could not become the user, or the user may not run the program.</exception>
    public static LaunchedChild Start(string program, string argv0, IReadOnlyList<string> arguments, string workingDirectory, UserAccount? runAs,
        Action<ProgramOutputLine>? output = null)
    {
        var launcher = HelperProgram.Locate(LauncherName, "launcher");
        var info = new ProcessStartInfo(launcher) { UseShellExecute = false, WorkingDirectory = workingDirectory };
        if (runAs is not null)
        {
            foreach (var argument in new[] { "--run-as", runAs.Name, runAs.Uid.ToString(CultureInfo.InvariantCulture), runAs.Gid.ToString(CultureInfo.InvariantCulture) })
                info.ArgumentList.Add(argument);
            // What login(1) sets; the rest of the environment is the tracer's.
            info.Environment["HOME"] = runAs.Home;
            info.Environment["USER"] = runAs.Name;
            info.Environment["LOGNAME"] = runAs.Name;
            info.Environment["SHELL"] = runAs.Shell;
        }
        HelperProgram.IsolateFromLoaderVariables(info.Environment, forProgram: true);
        info.ArgumentList.Add(program);
        info.ArgumentList.Add(argv0);
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        if (output is not null)
            info.RedirectStandardInput = info.RedirectStandardOutput = info.RedirectStandardError = true;
        var child = new LaunchedChild(Process.Start(info)!);
        if (output is not null)
            child.Capture(output);
        try
        {
            child.WaitUntilReady(program, runAs);
            return child;
        }
        catch
        {
            child.Terminate();
            child.Dispose();
            throw;
        }
    }

    /// <summary>Closes the program's stdin and hands its output on; WaitForExitAsync then also waits for the last line.</summary>
    private void Capture(Action<ProgramOutputLine> output)
    {
        _process.StandardInput.Close();
        _process.OutputDataReceived += (_, line) => { if (line.Data is not null) output(new ProgramOutputLine(line.Data, IsError: false)); };
        _process.ErrorDataReceived += (_, line) => { if (line.Data is not null) output(new ProgramOutputLine(line.Data, IsError: true)); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>
    /// Lets the child exec <paramref name="executable"/> and holds it where its dynamic linker has
    /// loaded the libraries (preloaded ones too), before any constructor runs; then returns the
    /// files the linker loaded, the executable first, in its search order. Returns null, the child
    /// still waiting before its exec, for a program without such a linker (a static one).
    /// </summary>
    /// <exception cref="UtraceException">The program exited, or its linker did not report, before its libraries were loaded.</exception>
    public IReadOnlyList<string>? RunToLibraries(ElfImage executable)
    {
        if (DynamicLinker.Of(executable) is not { } linker)
            return null;
        using var follow = FollowProgram.Load(eventsMapFd: null, children: false);
        var files = linker.HoldWhenLoaded(follow, ProcessId, () => Signal(Interop.Libc.SIGUSR1), executable.FileName);
        _heldAtLibraries = true;
        return files;
    }

    /// <summary>Lets the program run: the launcher execs it, or the program held after its exec goes on.</summary>
    public void Release() => Signal(_heldAtLibraries ? Interop.Libc.SIGCONT : Interop.Libc.SIGUSR1);

    private void Signal(int signal)
    {
        if (Interop.Libc.Kill(ProcessId, signal) != 0)
            throw new UtraceException(TraceErrorKind.ProcessNotFound, $"The launched process {ProcessId} went away before it could start.",
                null, ProcessId, Interop.LastErrno, errorId: "LaunchedProcessExited");
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
    private void WaitUntilReady(string program, UserAccount? runAs)
    {
        const ulong sigusr1Bit = 1UL << (Interop.Libc.SIGUSR1 - 1);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < ReadyTimeout)
        {
            if (_process.HasExited)
                throw LauncherFailed(_process.ExitCode, program, runAs);
            if ((CaughtSignals() & sigusr1Bit) != 0)
                return;
            Thread.Sleep(1);
        }
        throw new UtraceException(TraceErrorKind.OperationFailed, "The launcher did not get ready in time.", null, ProcessId, errorId: "LaunchTimedOut");
    }

    // The exit codes bpf/utrace-launch.c gives before it execs the program.
    private UtraceException LauncherFailed(int exitCode, string program, UserAccount? runAs) => exitCode switch
    {
        RunAsFailedExit when runAs is not null => new UtraceException(TraceErrorKind.PermissionDenied,
            $"The command could not run as {runAs.Name} (uid {runAs.Uid}, gid {runAs.Gid}): switching its groups and ids failed (the reason is printed above).",
            "-RunAs needs root (or CAP_SETUID and CAP_SETGID): run PowerShell with sudo.", runAs.Name, errorId: "RunAsFailed"),
        NotExecutableExit when runAs is not null => new UtraceException(TraceErrorKind.PermissionDenied,
            $"User {runAs.Name} may not execute {program}.",
            $"Give {runAs.Name} execute permission on the file and search (x) permission on every directory above it, or copy the program somewhere {runAs.Name} can reach, such as /tmp.",
            program, errorId: "ProgramNotExecutable"),
        _ => new UtraceException(TraceErrorKind.OperationFailed, $"The launcher exited with code {exitCode} before the program started.", null, ProcessId, errorId: "LaunchFailed"),
    };

    private ulong CaughtSignals()
    {
        try
        {
            return ProcFs.StatusMask(ProcessId, "SigCgt");
        }
        catch (UtraceException)
        {
            return 0; // exited meanwhile: the loop reports it
        }
    }
}
