namespace Utrace.Native.Tracing;

/// <summary>
/// The native helpers shipped next to the engine's assembly (utrace-launch, utrace-guard), which
/// are started as files. A NuGet package (Install-PSResource, the PowerShell Gallery) does not keep
/// file modes, so a helper that lost its exec bit gets it back before it is started.
/// </summary>
internal static class HelperProgram
{
    private const UnixFileMode Executable = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

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
