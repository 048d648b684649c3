using System.Management.Automation;
using Utrace.Native.Recording;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// Reading trace files for a cmdlet: paths resolved through PowerShell's providers (wildcards,
/// ~, drives), then each file's events streamed one record batch at a time; Export-Csv and
/// Export-Clixml files of CallEvents are read whole and give typed CallEvents again. Every failure is a
/// non-terminating error of the cmdlet, and a cut file a warning.
/// </summary>
internal sealed class TraceFileInput(PSCmdlet cmdlet)
{
    /// <summary>Streams the events of every file <paramref name="path"/> names to <paramref name="onEvent"/>.</summary>
    public void Read(string path, bool literal, Action<CallEvent> onEvent) =>
        Read(path, literal, file =>
        {
            long count = 0;
            foreach (var e in file.ReadEvents())
            {
                onEvent(e);
                count++;
            }
            return count;
        }, onEvent);

    /// <summary>
    /// Streams the record batches of every trace file <paramref name="path"/> names to
    /// <paramref name="onBatch"/>, with no object per event; a text export has no batches and
    /// gives its CallEvents to <paramref name="onExportedEvent"/>.
    /// </summary>
    public void ReadBatches(string path, bool literal, Action<TraceContext, EventBatch> onBatch, Action<CallEvent> onExportedEvent) =>
        Read(path, literal, file =>
        {
            long count = 0;
            foreach (var batch in file.ReadBatches())
            {
                onBatch(file.Context, batch);
                count += batch.Length;
            }
            return count;
        }, onExportedEvent);

    /// <summary>Reads every file <paramref name="path"/> names: trace files with <paramref name="readEvents"/> (which returns the events read), text exports to <paramref name="onExportedEvent"/>.</summary>
    private void Read(string path, bool literal, Func<TraceFile, long> readEvents, Action<CallEvent> onExportedEvent)
    {
        foreach (var file in Resolve(path, literal))
            ReadFile(file, readEvents, onExportedEvent);
    }

    /// <summary>The file-system paths <paramref name="path"/> names; an error (and none) when it names nothing.</summary>
    private IReadOnlyList<string> Resolve(string path, bool literal)
    {
        var files = FileSystemPaths.ResolveExisting(cmdlet, path, literal, "TraceFile", out var error);
        if (error is not null)
            cmdlet.WriteError(error);
        return files;
    }

    private void ReadFile(string path, Func<TraceFile, long> readEvents, Action<CallEvent> onExportedEvent)
    {
        if (ExportCommand(path) is { } import)
        {
            ReadExport(path, import, onExportedEvent);
            return;
        }
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
            long count;
            try
            {
                count = readEvents(file);
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

    /// <summary>The cmdlet that reads <paramref name="path"/> when it is a text export of CallEvents; null for a trace file.</summary>
    private static string? ExportCommand(string path)
    {
        var head = new char[16];
        int read;
        try
        {
            using var reader = new StreamReader(path);
            read = reader.ReadBlock(head);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;   // TraceFile.Open reports it.
        }
        var text = new string(head, 0, read);
        if (text.StartsWith("#< CLIXML", StringComparison.Ordinal) || text.StartsWith("<Objs", StringComparison.Ordinal))
            return "Import-Clixml";
        return text.StartsWith('"') || text.StartsWith("#TYPE", StringComparison.Ordinal) ? "Import-Csv" : null;
    }

    /// <summary>
    /// Typed CallEvents from Export-Csv or Export-Clixml of CallEvents: Duration compares and sorts
    /// as a Duration again, Start keeps its nanoseconds. No event is given unless every row is a
    /// call, so all are read first; each row's property bag is dropped as soon as it is read (they
    /// took ~4 KB a row held all at once), and its names are kept once, in its trace's function table.
    /// </summary>
    private void ReadExport(string path, string import, Action<CallEvent> onEvent)
    {
        var calls = new List<CallEvent>();
        var table = new ImportedCallTable();
        FormatException? notACall = null;
        var rows = new PSDataCollection<PSObject>();
        rows.DataAdded += (_, added) =>
        {
            var row = rows[added.Index];
            rows.Clear();
            if (notACall is not null)
                return;
            try
            {
                calls.Add(CallPropertyReader.Read(row, $"row {calls.Count + 1}", table));
            }
            catch (FormatException ex)
            {
                notACall = ex;
            }
        };
        using (var reader = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace))
        {
            reader.AddCommand(import).AddParameter("LiteralPath", path);
            reader.Invoke(null, rows);
            foreach (var error in reader.Streams.Error)
                cmdlet.WriteError(error);
        }
        if (notACall is not null)
        {
            cmdlet.WriteError(ErrorRecords.Create(new InvalidDataException($"'{path}' is not an export of CallEvents: {notACall.Message}.", notACall), "InvalidCallEventExport",
                ErrorCategory.InvalidData, path, "Import-UTrace reads trace files and the Export-Csv or Export-Clixml output of CallEvents, with all their properties."));
            return;
        }
        foreach (var e in calls)
            onEvent(e);
    }

    /// <summary>The error id of a trace file that cannot be read.</summary>
    internal static string ErrorId(UtraceException ex) => ex.Kind switch
    {
        TraceErrorKind.NotFound => "TraceFileNotFound",
        TraceErrorKind.NotSupported => "TraceFormatTooNew",
        TraceErrorKind.InvalidData => "InvalidTraceFile",
        _ => "ImportTraceFailed",
    };
}
