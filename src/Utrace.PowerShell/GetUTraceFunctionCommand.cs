using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>Lists the functions Start-UTrace would trace, with the same selection parameters.</summary>
[Cmdlet(VerbsCommon.Get, "UTraceFunction", DefaultParameterSetName = PathSet)]
[OutputType(typeof(FunctionInfo))]
public sealed class GetUTraceFunctionCommand : UTraceSelectionCommandBase
{
    private const string PathSet = "Path";
    private const string ProcessSet = "ProcessId";

    /// <summary>An executable: a path, or a name on PATH.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "FilePath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>A running process.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ProcessSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "PID")]
    [ValidateRange(1, int.MaxValue)]
    public int ProcessId { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            var catalog = ParameterSetName == ProcessSet
                ? FunctionCatalog.ForProcess(ProcessId)
                : LaunchTarget.FromFile(Path, CurrentDirectory).LoadCatalog();
            foreach (var function in catalog.Select(BuildSelection()))
                WriteObject(function);
        }
        catch (UtraceException ex)
        {
            WriteError(ErrorRecords.From(ex, "GetFunctionsFailed"));
        }
    }
}
