using System.Text.Json;
using System.Text.Json.Serialization;
using Utrace.Native.Bpf;

namespace Utrace.Native.Tracing;

/// <summary>
/// Measures what Utrace's probes cost on this machine, by tracing utrace-calibrate (bpf/utrace-calibrate.c) for a
/// fraction of a second, and keeps the figures in a cache file until the kernel or the CPU changes. A probe's cost
/// varies threefold between hosts of the same kind, so it is never assumed.
/// </summary>
internal static class ProbeCalibrator
{
    // Per round, each traced leaf is called this often: about 10 ms for the single-stepped one at 20 us a call, short
    // enough that some rounds run unpreempted on a busy machine.
    private const int CallsPerRound = 500;
    private const int Rounds = 15;

    private static readonly object CacheLock = new();

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The cache file: $XDG_CACHE_HOME/utrace, else ~/.cache/utrace.</summary>
    public static string CachePath
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "utrace", "probe-calibration.json");
        }
    }

    /// <summary>
    /// The figures for traces of <paramref name="returnMode"/> and <paramref name="attachMode"/> (both resolved, not
    /// Auto) on this kernel and CPU: from the cache, or measured now (and cached) when it has none or
    /// <paramref name="recalibrate"/> is set.
    /// </summary>
    /// <exception cref="UtraceException">The calibration run failed.</exception>
    public static ProbeCalibration For(ReturnMode returnMode, AttachMode attachMode, bool recalibrate = false)
    {
        var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        var cpu = CpuModel();
        lock (CacheLock)
        {
            // Figures of another kernel or CPU are dropped: they no longer describe this machine.
            var cached = ReadCache().Where(c => c.KernelRelease == kernel && c.CpuModel == cpu).ToList();
            if (!recalibrate && cached.Find(c => c.ReturnMode == returnMode && c.AttachMode == attachMode) is { } known)
                return known;
            var measured = Measure(kernel, cpu, returnMode, attachMode);
            cached.RemoveAll(c => c.ReturnMode == returnMode && c.AttachMode == attachMode);
            cached.Add(measured);
            WriteCache(cached);
            return measured;
        }
    }

    /// <summary>
    /// Traces utrace-calibrate: per kind of hit, what a traced leaf adds to its caller (the caller's CPU time minus
    /// that of its twin calling an untraced leaf, per call, as the program measures them: CPU time leaves out the
    /// waits for a CPU that a busy machine adds to durations; the cheapest round, as what the machine's other work
    /// adds is never negative) and the leaf's own duration (its probes' inside part, the median call).
    /// </summary>
    private static ProbeCalibration Measure(string kernel, string cpu, ReturnMode returnMode, AttachMode attachMode)
    {
        var program = HelperProgram.Locate("utrace-calibrate", "calibration program");
        var cpuTimesFile = Path.GetTempFileName();
        try
        {
            var durations = TraceLeaves(program, cpuTimesFile, returnMode, attachMode);
            var cpuTimes = ReadCpuTimes(cpuTimesFile, program);
            var perCall = new long[Abi.HitKinds];
            var inside = new long[Abi.HitKinds];
            foreach (var kind in Enum.GetValues<ProbeHitKind>())
            {
                var leaf = Sorted(durations, "probe_leaf_" + FunctionSuffix(kind));
                perCall[(int)kind] = Math.Max(0, cpuTimes[FunctionSuffix(kind)] / CallsPerRound);
                inside[(int)kind] = Math.Min(perCall[(int)kind], leaf[leaf.Count / 2]);
            }
            return new ProbeCalibration(kernel, cpu, returnMode, attachMode, DateTime.UtcNow, perCall, inside);
        }
        finally
        {
            File.Delete(cpuTimesFile);
        }
    }

    /// <summary>The durations of the calibration program's traced calls, by function.</summary>
    private static Dictionary<string, List<long>> TraceLeaves(string program, string cpuTimesFile, ReturnMode returnMode, AttachMode attachMode)
    {
        var options = new TraceOptions
        {
            Selection = new FunctionSelection { Include = name => name.StartsWith("probe_", StringComparison.Ordinal) || name.StartsWith("bare_outer_", StringComparison.Ordinal) },
            ReturnMode = returnMode,
            AttachMode = attachMode,
            AccountProbeCost = false,
            ProgramOutput = _ => { },
        };
        var durations = new Dictionary<string, List<long>>();
        using (var session = TraceSession.Launch(program, program, [program, $"{CallsPerRound}", $"{Rounds}", cpuTimesFile], Path.GetTempPath(), options))
        {
            foreach (var call in session.ReadEvents(CancellationToken.None))
            {
                if (!durations.TryGetValue(call.Function, out var list))
                    durations[call.Function] = list = [];
                list.Add(call.RawDurationNs);
            }
            if (session.Summary.EventsDropped > 0)
                throw new UtraceException(TraceErrorKind.OperationFailed, $"The calibration run lost {session.Summary.EventsDropped} events: its figures would be wrong.",
                    "Run it again when the machine is less busy: Get-UTraceCalibration -Force.", program, errorId: "CalibrationLostEvents");
        }
        return durations;
    }

    /// <summary>
    /// By kind of hit, the least CPU time a round's traced outer call took more than its untraced twin, from the lines
    /// "KIND PROBE_NS BARE_NS" utrace-calibrate writes.
    /// </summary>
    private static Dictionary<string, long> ReadCpuTimes(string file, string program)
    {
        var least = new Dictionary<string, long>();
        foreach (var line in File.ReadLines(file))
        {
            var fields = line.Split(' ');
            if (fields.Length != 3 || !long.TryParse(fields[1], out var traced) || !long.TryParse(fields[2], out var bare))
                continue;
            least[fields[0]] = least.TryGetValue(fields[0], out var known) ? Math.Min(known, traced - bare) : traced - bare;
        }
        if (least.Count != Abi.HitKinds)
            throw new UtraceException(TraceErrorKind.OperationFailed, "The calibration program did not report its CPU times.",
                "Check that utrace-calibrate runs (scripts/setup.sh builds it), then run Get-UTraceCalibration -Force.", program,
                errorId: "CalibrationIncomplete");
        return least;
    }

    private static string FunctionSuffix(ProbeHitKind kind) => kind switch
    {
        ProbeHitKind.Emulated => "emulated",
        ProbeHitKind.SingleStepped => "single_stepped",
        _ => "optimized_nop",
    };

    private static List<long> Sorted(Dictionary<string, List<long>> durations, string function)
    {
        if (!durations.TryGetValue(function, out var list) || list.Count == 0)
            throw new UtraceException(TraceErrorKind.OperationFailed, $"The calibration run reported no call of {function}.",
                "Check that utrace-calibrate runs (scripts/setup.sh builds it), then run Get-UTraceCalibration -Force.", function,
                errorId: "CalibrationIncomplete");
        list.Sort();
        return list;
    }

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal)) is { } line
            ? line[(line.IndexOf(':') + 1)..].Trim()
            : "unknown";

    private static List<ProbeCalibration> ReadCache()
    {
        try
        {
            return JsonSerializer.Deserialize<List<ProbeCalibration>>(File.ReadAllText(CachePath), JsonOptions) ?? [];
        }
        // A missing or damaged cache is measured again.
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or ArgumentException or InvalidOperationException)
        {
            return [];
        }
    }

    private static void WriteCache(List<ProbeCalibration> calibrations)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(CachePath)!);
            File.WriteAllText(CachePath, JsonSerializer.Serialize(calibrations, JsonOptions));
        }
        // Without a cache, the next trace measures again: slower, not wrong.
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
