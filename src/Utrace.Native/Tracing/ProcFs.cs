using Microsoft.Win32.SafeHandles;

namespace Utrace.Native.Tracing;

/// <summary>
/// The one reader of /proc. A process can exit between any two reads; every reader that needs the
/// process turns that into the same error, <see cref="Exited"/>.
/// </summary>
internal static class ProcFs
{
    /// <summary>The path through which the kernel opens a process's executable, even if it was deleted or replaced.</summary>
    public static string ExecutablePath(int pid) => $"/proc/{pid}/exe";

    /// <summary>A path of the process's mount namespace, reachable from ours.</summary>
    public static string RootedPath(int pid, string path) => $"/proc/{pid}/root{path}";

    /// <summary>True while the process exists, zombies included.</summary>
    public static bool Exists(int pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>True while the process runs: it exists and is not a zombie.</summary>
    public static bool IsRunning(int pid) => State(pid) is { } state && state is not ('Z' or 'X');

    /// <summary>True while the process is stopped by a signal (SIGSTOP).</summary>
    public static bool IsStopped(int pid) => State(pid) == 'T';

    /// <summary>
    /// The CPU time the process's live threads have run (their schedstat, in ns); threads that have exited are no longer
    /// counted. Null once the process is gone.
    /// </summary>
    public static long? CpuTimeNs(int pid)
    {
        try
        {
            long sum = 0;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                var schedstat = File.ReadAllText(Path.Combine(task, "schedstat"));
                sum += long.Parse(schedstat.AsSpan(0, schedstat.IndexOf(' ')));
            }
            return sum;
        }
        catch (IOException)
        {
            return null;
        }
    }

    // The letter of /proc/PID/stat's state (R, S, T, Z...); null once the process is gone.
    private static char? State(int pid)
    {
        try
        {
            // The state follows the command name, which may itself hold spaces or parentheses.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0];
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// True once the process is gone or on its way out: an exiting process drops its files (exe, root)
    /// some time before it shows as a zombie, and an attach that meets that window must say it exited.
    /// </summary>
    public static bool HasExited(int pid)
    {
        if (!IsRunning(pid))
            return true;
        try
        {
            return new FileInfo(ExecutablePath(pid)).ResolveLinkTarget(returnFinalTarget: false) is null;
        }
        catch (UnauthorizedAccessException)
        {
            return false; // another user's process: it is there, only not readable
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>The command line, words joined by spaces; null if it is empty (a kernel thread, a zombie) or the process is gone.</summary>
    public static string? CommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllText($"/proc/{pid}/cmdline");
            return raw.Length == 0 ? null : raw.TrimEnd('\0').Replace('\0', ' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The paths of the files mapped executable, in map order, repeats included.</summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    public static IReadOnlyList<string> ExecutableMappings(int pid) =>
        FileMappings(pid).Where(mapping => mapping.Executable).Select(mapping => mapping.Path).ToArray();

    /// <summary>The files mapped into the process, in map order, each mapping apart.</summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    public static IReadOnlyList<FileMapping> FileMappings(int pid)
    {
        var mappings = new List<FileMapping>();
        foreach (var line in Read(pid, "maps", File.ReadAllLines))
        {
            // address perms offset dev inode pathname; the pathname may contain spaces.
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 6 && fields[1].Length >= 3 && fields[5].TrimStart() is ['/', ..] path && fields[0].Split('-') is [var start, var end])
                mappings.Add(new FileMapping(Convert.ToUInt64(start, 16), Convert.ToUInt64(end, 16), fields[1][2] == 'x', path));
        }
        return mappings;
    }

    /// <summary>An entry of the auxiliary vector the kernel gave the process at exec (AT_BASE...), or null.</summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    public static ulong? AuxiliaryValue(int pid, ulong type)
    {
        var vector = Read(pid, "auxv", File.ReadAllBytes);
        // Pairs of 64-bit words, type then value, up to AT_NULL.
        for (var at = 0; at + 16 <= vector.Length && BitConverter.ToUInt64(vector, at) is var entry && entry != 0; at += 16)
        {
            if (entry == type)
                return BitConverter.ToUInt64(vector, at + 8);
        }
        return null;
    }

    /// <summary>The process's memory, to read with RandomAccess at its addresses.</summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    public static SafeFileHandle OpenMemory(int pid) => Read(pid, "mem", path => File.OpenHandle(path));

    /// <summary>A hexadecimal mask of /proc/PID/status (SigCgt, CapEff, ...); 0 when the field is absent.</summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    public static ulong StatusMask(int pid, string field)
    {
        var prefix = field + ":";
        var line = Read(pid, "status", File.ReadAllLines).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? 0 : Convert.ToUInt64(line[prefix.Length..].Trim(), 16);
    }

    /// <summary>The effective capabilities of this process, one bit per capability number.</summary>
    public static ulong OwnEffectiveCapabilities() => StatusMask(Environment.ProcessId, "CapEff");

    /// <summary>The highest capability number this kernel knows.</summary>
    public static int LastCapability() => int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim());

    /// <summary>The error for a process that went away while it was being read or attached to.</summary>
    public static UtraceException Exited(int pid, Exception? inner = null) =>
        new(TraceErrorKind.ProcessNotFound, $"Process {pid} has exited: Utrace cannot read its functions or attach to it.",
            "Check the id with Get-Process; to trace a short-lived program from its start, use Start-UTrace -Command.",
            pid, inner: inner, errorId: "ProcessExited");

    /// <summary>The error for a process whose /proc files the kernel does not let this one read.</summary>
    public static UtraceException AccessDenied(int pid, Exception? inner = null) =>
        new(TraceErrorKind.PermissionDenied, $"Utrace may not read process {pid}: it belongs to another user, and reading it needs CAP_SYS_PTRACE.",
            "Run PowerShell as root: sudo pwsh.", pid, inner: inner, errorId: "ProcessAccessDenied");

    // Read at once: a lazy reader would fail later, outside this catch.
    private static T Read<T>(int pid, string file, Func<string, T> read)
    {
        try
        {
            return read($"/proc/{pid}/{file}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && !IsRunning(pid))
        {
            throw Exited(pid, ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw AccessDenied(pid, ex);
        }
    }
}

/// <summary>A file mapped into a process: its addresses, whether they are executable, and its path in the process's mount namespace.</summary>
internal readonly record struct FileMapping(ulong Start, ulong End, bool Executable, string Path);
