using System.Management.Automation;
using Utrace.Native.Bpf;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// What a hit of Utrace's probes costs on this machine, by kind of entry probe: the figures every trace takes out of
/// its calls' durations. Read from the cache; measured (a traced run of under a second) when the cache has none for
/// this kernel, CPU and modes, or with -Force.
/// </summary>
[Cmdlet(VerbsCommon.Get, "UTraceCalibration")]
[OutputType(typeof(ProbeCalibration))]
public sealed class GetUTraceCalibrationCommand : PSCmdlet
{
    /// <summary>The return mode the figures are for (calls are timed only by these two).</summary>
    [Parameter]
    [ValidateSet(nameof(Utrace.ReturnMode.Uretprobe), nameof(Utrace.ReturnMode.RetInstruction))]
    public ReturnMode ReturnMode { get; set; } = ReturnMode.Uretprobe;

    /// <summary>The attach mode the figures are for; by default the one a trace without -ThreadId or -MaxDepth uses here.</summary>
    [Parameter]
    [ValidateSet(nameof(Utrace.AttachMode.MultiLink), nameof(Utrace.AttachMode.PerFunction), nameof(Utrace.AttachMode.Session))]
    public AttachMode AttachMode { get; set; } = KernelFeatures.Current.MultiLinks ? AttachMode.MultiLink : AttachMode.PerFunction;

    /// <summary>Measure again, even if the cache has figures for this machine.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void EndProcessing()
    {
        if (AttachMode == AttachMode.Session && ReturnMode != ReturnMode.Uretprobe)
        {
            var ex = new ArgumentException("Session links time calls with return probes only: -AttachMode Session needs -ReturnMode Uretprobe.");
            ThrowTerminatingError(ErrorRecords.Create(ex, "SessionNeedsUretprobe", ErrorCategory.InvalidArgument, AttachMode,
                "Leave out -ReturnMode, or choose another -AttachMode."));
        }
        try
        {
            WriteObject(ProbeCalibrator.For(ReturnMode, AttachMode, Force));
        }
        catch (UtraceException ex)
        {
            WriteError(ErrorRecords.From(ex, "CalibrationFailed"));
        }
    }
}
