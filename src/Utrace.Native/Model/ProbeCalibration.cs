using System.Text.Json.Serialization;
using Utrace.Native.Bpf;

namespace Utrace;

/// <summary>
/// What one hit of Utrace's probes costs on this machine, measured by Utrace itself (a short traced run of a
/// built-in program) for one return mode and attach mode; kept until the kernel or the CPU changes. Each kind of
/// entry probe has two figures: what a traced call's probes add to its caller's time, and the part of it that falls
/// between the call's own two timestamps (so inside its own duration).
/// </summary>
public sealed class ProbeCalibration
{
    [JsonConstructor]
    public ProbeCalibration(string kernelRelease, string cpuModel, ReturnMode returnMode, AttachMode attachMode, DateTime measuredAt,
        long[] perCallNs, long[] insideNs)
    {
        if (perCallNs?.Length != Abi.HitKinds || insideNs?.Length != Abi.HitKinds)
            throw new ArgumentException($"A calibration has {Abi.HitKinds} figures of each sort, one per kind of probe hit.");
        KernelRelease = kernelRelease;
        CpuModel = cpuModel;
        ReturnMode = returnMode;
        AttachMode = attachMode;
        MeasuredAt = measuredAt;
        PerCallNs = perCallNs!;
        InsideNs = insideNs!;
    }

    /// <summary>The kernel the figures were measured on (its release, as uname -r says).</summary>
    public string KernelRelease { get; }

    /// <summary>The CPU they were measured on (model name in /proc/cpuinfo).</summary>
    public string CpuModel { get; }

    public ReturnMode ReturnMode { get; }
    public AttachMode AttachMode { get; }

    /// <summary>When the calibration run took place (UTC).</summary>
    public DateTime MeasuredAt { get; }

    /// <summary>A traced call's probes, as its caller sees them: entry probe on an instruction the kernel emulates.</summary>
    [JsonIgnore]
    public Duration EmulatedCall => Cost(PerCallNs, ProbeHitKind.Emulated);

    /// <summary>Of <see cref="EmulatedCall"/>, the part inside the call's own duration.</summary>
    [JsonIgnore]
    public Duration EmulatedInside => Cost(InsideNs, ProbeHitKind.Emulated);

    /// <summary>A traced call's probes, as its caller sees them: entry probe on an instruction the kernel single-steps.</summary>
    [JsonIgnore]
    public Duration SingleSteppedCall => Cost(PerCallNs, ProbeHitKind.SingleStepped);

    /// <summary>Of <see cref="SingleSteppedCall"/>, the part inside the call's own duration.</summary>
    [JsonIgnore]
    public Duration SingleSteppedInside => Cost(InsideNs, ProbeHitKind.SingleStepped);

    /// <summary>A traced call's probes, as its caller sees them: entry probe on a 5-byte nop the kernel optimizes.</summary>
    [JsonIgnore]
    public Duration OptimizedNopCall => Cost(PerCallNs, ProbeHitKind.OptimizedNop);

    /// <summary>Of <see cref="OptimizedNopCall"/>, the part inside the call's own duration.</summary>
    [JsonIgnore]
    public Duration OptimizedNopInside => Cost(InsideNs, ProbeHitKind.OptimizedNop);

    /// <summary>By <see cref="ProbeHitKind"/>: what a traced call's probes add to its caller's time (ns).</summary>
    [JsonInclude]
    internal long[] PerCallNs { get; }

    /// <summary>By <see cref="ProbeHitKind"/>: the part of <see cref="PerCallNs"/> between the call's own timestamps (ns).</summary>
    [JsonInclude]
    internal long[] InsideNs { get; }

    /// <summary>The kind of hit an entry probe of <paramref name="kind"/> costs (a moved probe sits on an emulated instruction).</summary>
    internal static ProbeHitKind HitOf(EntryProbeKind kind) => kind switch
    {
        EntryProbeKind.OptimizedNop => ProbeHitKind.OptimizedNop,
        EntryProbeKind.Emulated or EntryProbeKind.Moved => ProbeHitKind.Emulated,
        _ => ProbeHitKind.SingleStepped,
    };

    /// <summary>
    /// <paramref name="config"/> with these figures, so that the kernel too filters (-MinDuration) and sums (-Summary)
    /// the program's own time, which it also sends with each call.
    /// </summary>
    internal unsafe TraceConfig Priced(TraceConfig config)
    {
        for (var k = 0; k < Abi.HitKinds; k++)
        {
            config.ProbeCallNs[k] = (ulong)PerCallNs[k];
            config.ProbeInsideNs[k] = (ulong)InsideNs[k];
        }
        return config;
    }

    private static Duration Cost(long[] figures, ProbeHitKind kind) => Duration.FromNanoseconds(figures[(int)kind]);
}
