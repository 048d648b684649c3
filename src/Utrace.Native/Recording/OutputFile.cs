using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Utrace.Native.Tracing;

namespace Utrace.Native.Recording;

/// <summary>
/// Opens the file a trace is written to (Start-UTrace -OutFile, Export-UTrace): created mode 0640 and, under sudo,
/// owned by the invoking user; a file that exists keeps its owner and is emptied only when writing begins, never
/// deleted. A folder, a device, a pipe or a program is never written over.
/// </summary>
internal static class OutputFile
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

    /// <summary>
    /// Opens <paramref name="path"/> for writing; <paramref name="parameter"/> (-OutFile, -Path) names it in the hints.
    /// Created is true when the file is new: only then may the writer delete it again.
    /// </summary>
    public static (string FullPath, SafeFileHandle File, bool Created) Open(string path, string parameter)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"Cannot create the trace file '{fullPath}': it is a folder.",
                $"Give {parameter} the path of a file in that folder.", fullPath, errorId: "OutFileIsFolder");
        SafeFileHandle file;
        var created = true;
        try
        {
            try
            {
                file = File.OpenHandle(fullPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
            }
            catch (IOException) when (File.Exists(fullPath))
            {
                file = File.OpenHandle(fullPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
                created = false;
            }
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new UtraceException(TraceErrorKind.NotFound, $"Cannot create the trace file '{fullPath}': its folder does not exist.",
                $"Create the folder first, or give {parameter} a path in an existing folder.", fullPath, inner: ex, errorId: "OutFileFolderNotFound");
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException || ex.HResult == Interop.EROFS)
        {
            throw new UtraceException(TraceErrorKind.PermissionDenied, $"Cannot create the trace file '{fullPath}': {ex.Message}",
                "Write the trace to a folder you can write to, or check that the path is not a folder.", fullPath, inner: ex, errorId: "OutFileAccessDenied");
        }
        catch (IOException ex)
        {
            throw new UtraceException(TraceErrorKind.ResourceUnavailable, $"Cannot create the trace file '{fullPath}': {ex.Message}",
                "Check the path, the free space and the permissions of its folder.", fullPath, inner: ex, errorId: "OutFileNotCreated");
        }
        try
        {
            if (created)
                MakePrivate(file);
            else
                RefuseToOverwrite(file, fullPath, parameter);
        }
        catch
        {
            file.Dispose();
            if (created)
                File.Delete(fullPath);
            throw;
        }
        return (fullPath, file, created);
    }

    /// <summary>Empties a file that existed, when writing begins: a trace may hold captured strings, so it loses any right beyond 0640 and keeps its owner.</summary>
    public static void Empty(SafeFileHandle file)
    {
        RandomAccess.SetLength(file, 0);
        File.SetUnixFileMode(file, File.GetUnixFileMode(file) & Private);
    }

    // An existing file is replaced only if it is a regular file and no program: a trace written over
    // /dev/null or the traced binary would harm the machine, not record anything.
    private static void RefuseToOverwrite(SafeFileHandle file, string path, string parameter)
    {
        var hint = $"Give {parameter} the path of a new file, or of a trace file to replace.";
        if (Interop.Libc.FileMode(file) is { } mode && (mode & Interop.Libc.S_IFMT) != Interop.Libc.S_IFREG)
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"Cannot write the trace file over '{path}': it is not a regular file (a device, a pipe or a socket).",
                hint, path, errorId: "OutFileNotRegular");
        Span<byte> magic = stackalloc byte[4];
        if (RandomAccess.Read(file, magic, 0) == magic.Length && magic.SequenceEqual("\u007fELF"u8))
            throw new UtraceException(TraceErrorKind.InvalidArgument, $"Cannot write the trace file over '{path}': it is a program or library (an ELF file).",
                hint, path, errorId: "OutFileIsProgram");
    }

    private static void MakePrivate(SafeFileHandle file)
    {
        File.SetUnixFileMode(file, Private);
        if (!Environment.IsPrivilegedProcess
            || !uint.TryParse(Environment.GetEnvironmentVariable("SUDO_UID"), out var uid)
            || !uint.TryParse(Environment.GetEnvironmentVariable("SUDO_GID"), out var gid))
            return;
        if (Interop.Libc.FChown(file, uid, gid) != 0)
            throw new UtraceException(TraceErrorKind.PermissionDenied,
                $"Cannot give the trace file to the user who ran sudo (uid {uid}): {Marshal.GetPInvokeErrorMessage(Interop.LastErrno)}.",
                "Write the trace to a local folder (some network file systems refuse chown).", errorId: "OutFileOwnerNotSet");
    }
}
