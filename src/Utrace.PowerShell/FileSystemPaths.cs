using System.Management.Automation;
using Microsoft.PowerShell.Commands;

namespace Utrace.PowerShell;

/// <summary>
/// Resolves -Path, -LiteralPath and other file arguments through PowerShell's providers: `~`,
/// relative paths from the current location, PSDrives and (for -Path) wildcards.
/// </summary>
internal static class FileSystemPaths
{
    /// <summary>
    /// The existing files <paramref name="path"/> names (wildcards expanded unless <paramref name="literal"/>);
    /// on failure an empty list and the error to write, its id starting with <paramref name="noun"/>
    /// (TraceFileNotFound, ProgramNotFileSystem), or PowerShell's own PathNotFound.
    /// </summary>
    public static IReadOnlyList<string> ResolveExisting(PSCmdlet cmdlet, string path, bool literal, string noun, out ErrorRecord? error)
    {
        error = null;
        IReadOnlyList<string> files;
        ProviderInfo provider;
        try
        {
            files = literal
                ? [cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _)]
                : cmdlet.SessionState.Path.GetResolvedProviderPathFromPSPath(path, out provider);
        }
        catch (Exception ex) when (ex is ItemNotFoundException or SessionStateException)
        {
            // PowerShell's own error: "Cannot find path '...' because it does not exist."
            error = ((IContainsErrorRecord)ex).ErrorRecord;
            return [];
        }
        if ((error = NotFileSystem(path, provider, noun)) is not null)
            return [];
        if (files.Count == 0)
            error = ErrorRecords.Create(new ItemNotFoundException($"No file matches '{path}'."), noun + "NotFound",
                ErrorCategory.ObjectNotFound, path, "Check the pattern; list the files with Get-ChildItem.");
        return files;
    }

    /// <summary>The file-system path of a file that need not exist yet.</summary>
    /// <exception cref="ErrorRecordException">The path is on another provider, or its drive does not exist.</exception>
    public static string ResolveNew(PSCmdlet cmdlet, string path, string noun)
    {
        string resolved;
        ProviderInfo provider;
        try
        {
            resolved = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _);
        }
        catch (SessionStateException ex)
        {
            // A drive or provider that does not exist: PowerShell's own error says which.
            throw new ErrorRecordException(ex.ErrorRecord);
        }
        if (NotFileSystem(path, provider, noun) is { } error)
            throw new ErrorRecordException(error);
        return resolved;
    }

    private static ErrorRecord? NotFileSystem(string path, ProviderInfo provider, string noun) =>
        provider.ImplementingType == typeof(FileSystemProvider)
            ? null
            : ErrorRecords.Create(new ArgumentException($"'{path}' is not a file-system path (it is on the {provider.Name} provider)."),
                noun + "NotFileSystem", ErrorCategory.InvalidArgument, path, "Give a path on a file-system drive, such as ./trace.arrows or ~/bin/prog.");
}

/// <summary>A failure that already has its PowerShell error record.</summary>
internal sealed class ErrorRecordException(ErrorRecord record) : Exception(record.Exception.Message)
{
    public ErrorRecord Record { get; } = record;
}
