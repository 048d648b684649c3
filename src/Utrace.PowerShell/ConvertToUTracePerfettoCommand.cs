using System.Management.Automation;
using Utrace.Native.Reports;

namespace Utrace.PowerShell;

/// <summary>
/// Writes calls to a Perfetto trace file (protobuf TrackEvent) for ui.perfetto.dev and its
/// trace processor: a track per thread, a slice per call, captured values as arguments. Far
/// smaller than the Chrome JSON of the same calls; written as the calls come.
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "UTracePerfetto", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(FileInfo))]
public sealed class ConvertToUTracePerfettoCommand : UTraceReportCommandBase, IDisposable
{
    private FileStream? _file;
    private PerfettoTraceWriter? _writer;

    /// <summary>The Perfetto trace file to write (usually *.perfetto-trace or *.pftrace); an existing file is replaced.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string OutFile { get; set; } = "";

    internal override bool ReadsCapturedValues => true;

    protected override void BeginProcessing()
    {
        try
        {
            _file = new FileStream(FileSystemPaths.ResolveNew(this, OutFile, nameof(OutFile)), FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        catch (ErrorRecordException ex)
        {
            ThrowTerminatingError(ex.Record);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(ErrorRecords.Create(ex, "OutFileNotWritable", ErrorCategory.WriteError, OutFile,
                "Choose a path in a directory that exists and that you can write to."));
        }
        _writer = new PerfettoTraceWriter(_file!);
    }

    internal override void Add(in TracedCall call) => _writer!.Add(call);

    protected override void EndProcessing()
    {
        _writer!.Complete();
        Dispose();
        WriteObject(new FileInfo(_file!.Name));
    }

    // PowerShell calls this when the pipeline ends, stopped or failed too: the file is closed, with what was written.
    public void Dispose()
    {
        _writer?.Dispose();
        _file?.Dispose();
    }
}
