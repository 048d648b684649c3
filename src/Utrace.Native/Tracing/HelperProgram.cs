namespace Utrace.Native.Tracing;

/// <summary>
/// The native helpers shipped next to the engine's assembly (utrace-launch, utrace-guard), which
/// are started as files. A NuGet package (Install-PSResource, the PowerShell Gallery) does not keep
/// file modes, so a helper that lost its exec bit gets it back before it is started.
/// </summary>
internal static class HelperProgram
{
    private const UnixFileMode Executable = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// What the launcher calls the program's own dynamic-linker variables (LD_PRELOAD, LD_AUDIT,
    /// LD_LIBRARY_PATH, LD_DEBUG...) while it waits: it puts them back, under their names, only in
    /// the environment it execs the program with (bpf/utrace-launch.c).
    /// </summary>
    public const string ProgramVariablePrefix = "UTRACE_PROGRAM_";

    /// <summary>
    /// Keeps the program's dynamic-linker variables away from a helper's own start: a preloaded
    /// library's constructor would otherwise run, and print, in the helper too. With
    /// <paramref name="forProgram"/> they are kept, renamed, for the program the helper execs.
    /// </summary>
    public static void IsolateFromLoaderVariables(IDictionary<string, string?> environment, bool forProgram)
    {
        foreach (var name in environment.Keys.Where(name => name.StartsWith("LD_", StringComparison.Ordinal)).ToArray())
        {
            if (forProgram)
                environment[ProgramVariablePrefix + name] = environment[name];
            environment.Remove(name);
        }
    }

    /// <summary>The helper's full path, executable.</summary>
    /// <exception cref="UtraceException">The helper is missing, or lacks its exec bit and this user may not restore it.</exception>
    public static string Locate(string name, string role)
    {
        var path = Path.Combine(Path.GetDirectoryName(typeof(HelperProgram).Assembly.Location)!, name);
        if (!File.Exists(path))
            throw new UtraceException(TraceErrorKind.NotFound, $"The {role} {path} is missing.",
                "Reinstall Utrace (scripts/setup.sh, or Install-PSResource Utrace).", path, errorId: "HelperMissing");
        var mode = File.GetUnixFileMode(path);
        if ((mode & Executable) == Executable)
            return path;
        try
        {
            File.SetUnixFileMode(path, mode | Executable);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new UtraceException(TraceErrorKind.PermissionDenied, $"The {role} {path} is not executable, and Utrace may not make it so: {ex.Message}",
                $"Run, as the module's owner: chmod +x '{path}'", path, inner: ex, errorId: "HelperNotExecutable");
        }
        return path;
    }
}
