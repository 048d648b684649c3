using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// Reading trace files for a cmdlet: paths resolved through PowerShell's providers (wildcards,
/// ~, drives), then each file's events streamed one record batch at a time. Every failure is a
/// non-terminating error of the cmdlet, and a cut file a warning.
/// </summary>
internal sealed class TraceFileInput(PSCmdlet cmdlet)
{
    /// <summary>Streams the events of every file <paramref name="path"/> names to <paramref name="onEvent"/>.</summary>
    public void Read(string path, bool literal, Action<CallEvent> onEvent)
    {
        foreach (var file in Resolve(path, literal))
            ReadFile(file, onEvent);
    }

    /// <summary>The file-system paths <paramref name="path"/> names; an error (and none) when it names nothing.</summary>
    private IEnumerable<string> Resolve(string path, bool literal)
    {
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
            cmdlet.WriteError(((IContainsErrorRecord)ex).ErrorRecord);
            return [];
        }
        if (provider.ImplementingType != typeof(Microsoft.PowerShell.Commands.FileSystemProvider))
        {
            cmdlet.WriteError(ErrorRecords.Create(new ArgumentException($"'{path}' is not a file-system path (it is on the {provider.Name} provider)."),
                "TraceFileNotFileSystem", ErrorCategory.InvalidArgument, path, "Give a path on a file-system drive, such as ./trace.arrow."));
            return [];
        }
        if (files.Count == 0)
            cmdlet.WriteError(ErrorRecords.Create(new ItemNotFoundException($"No file matches '{path}'."),
                "TraceFileNotFound", ErrorCategory.ObjectNotFound, path, "Check the pattern; list the trace files with Get-ChildItem."));
        return files;
    }

    private void ReadFile(string path, Action<CallEvent> onEvent)
    {
        TraceFile file;
        try
        {
            file = TraceFile.Open(path);
        }
        catch (UtraceException ex)
        {
            cmdlet.WriteError(ErrorRecords.From(ex, ErrorId(ex)));
            return;
        }
        using (file)
        {
            long count = 0;
            try
            {
                foreach (var e in file.ReadEvents())
                {
                    onEvent(e);
                    count++;
                }
            }
            catch (UtraceException ex)
            {
                cmdlet.WriteError(ErrorRecords.From(ex, ErrorId(ex)));
                return;
            }
            if (file.WasCut)
                cmdlet.WriteWarning($"The trace file '{path}' was cut short (its recording was killed, ran out of disk, or is still running): " +
                    $"{count} events were read, up to its last complete record batch.");
        }
    }

    private static string ErrorId(UtraceException ex) => ex.Kind switch
    {
        TraceErrorKind.NotFound => "TraceFileNotFound",
        TraceErrorKind.NotSupported => "TraceFormatTooNew",
        TraceErrorKind.InvalidData => "InvalidTraceFile",
        _ => "ImportTraceFailed",
    };
}
