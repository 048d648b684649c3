using System.Management.Automation;
using Utrace.Native.Recording;

namespace Utrace.PowerShell;

/// <summary>Takes one call.</summary>
internal delegate void CallHandler(in TracedCall call);

/// <summary>
/// The pipeline objects a cmdlet takes as calls: CallEvents, objects with a CallEvent's properties (a CallEvent
/// deserialized by remoting or Import-Clixml), and Get-ChildItem's trace files. Anything else is a non-terminating error.
/// </summary>
internal sealed class CallInput(PSCmdlet cmdlet)
{
    // Deserialized CallEvents (remoting, Import-Clixml) of one trace share one context.
    private readonly ImportedCallTable _deserializedCalls = new();

    /// <summary>Gives the call <paramref name="input"/> is to <paramref name="add"/>, or the path of the file it is to <paramref name="readFile"/>.</summary>
    public void Read(PSObject? input, CallHandler add, Action<string> readFile)
    {
        if (input is null)
            return;
        if (input.BaseObject is CallEvent call)
        {
            add(call.Call);
            return;
        }
        // Get-ChildItem's files: the pipeline binds them here, as objects, before -LiteralPath could take their PSPath.
        if (input.BaseObject is FileInfo file)
        {
            readFile(file.FullName);
            return;
        }
        try
        {
            add(CallPropertyReader.Read(input, "it", _deserializedCalls).Call);
        }
        catch (FormatException ex)
        {
            cmdlet.WriteError(ErrorRecords.Create(new ArgumentException($"The input is not a CallEvent: {ex.Message}.", ex), "InputNotCallEvent",
                ErrorCategory.InvalidType, input,
                "Pipe the CallEvents of Start-UTrace (or read back with Import-Clixml, or from a remote session); give trace files with -Path, or pipe them from Get-ChildItem."));
        }
    }
}
