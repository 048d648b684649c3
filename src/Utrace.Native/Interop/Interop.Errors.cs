using System.Runtime.InteropServices;
using Utrace.Native.Bpf;
using Utrace.Native.Tracing;

namespace Utrace.Native;

internal static partial class Interop
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int ESRCH = 3;
    internal const int E2BIG = 7;
    internal const int ENOEXEC = 8;
    internal const int EACCES = 13;
    internal const int EINVAL = 22;
    internal const int EROFS = 30;
    internal const int ENOSYS = 38;
    internal const int EOPNOTSUPP = 95;
    internal const int ENOTSUPP = 524;

    internal const int CAP_SYS_ADMIN = 21;
    internal const int CAP_PERFMON = 38;
    internal const int CAP_BPF = 39;

    /// <summary>The errno of the last libbpf or libc call made with SetLastError.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>Maps an errno from a BPF operation to an engine error with a hint, in one place.</summary>
    internal static UtraceException BpfError(int errno, string operation, object? target = null)
    {
        var message = $"{operation} failed: {DescribeErrno(errno)}.";
        var details = LibbpfLog.Recent();
        if (errno is EPERM or EACCES && MissingTracingCapabilities(ProcFs.OwnEffectiveCapabilities(), ProcFs.LastCapability()) is { } missing)
            return new UtraceException(TraceErrorKind.PermissionDenied, $"{message} {missing.Explanation}",
                "Run PowerShell as root: sudo pwsh. Or give the program that runs PowerShell the capabilities, for every user who runs it: " +
                $"sudo setcap cap_bpf,cap_perfmon+ep '{Environment.ProcessPath}'. In a container, start it with --cap-add BPF --cap-add PERFMON.",
                target ?? string.Join(", ", missing.Names), errno, errorId: "MissingCapability");
        if (details.Length > 0)
            message += Environment.NewLine + details;
        return errno switch
        {
            EPERM or EACCES => new UtraceException(TraceErrorKind.PermissionDenied, message,
                "PowerShell has the capabilities tracing needs, so something else refused: kernel lockdown, an LSM (SELinux, AppArmor) or a seccomp filter.",
                target, errno, errorId: "BpfAccessDenied"),
            ENOENT => new UtraceException(TraceErrorKind.NotFound, message,
                "Check that the file exists and is readable.", target, errno, errorId: "BpfTargetNotFound"),
            ESRCH => new UtraceException(TraceErrorKind.ProcessNotFound, message,
                "The process exited; check the id with Get-Process.", target, errno, errorId: "ProcessExited"),
            ENOSYS or EOPNOTSUPP => new UtraceException(TraceErrorKind.NotSupported, message,
                "This kernel lacks a BPF feature Utrace needs (uprobes, BTF or multi-uprobe links).", target, errno, errorId: "KernelFeatureMissing"),
            ENOTSUPP => new UtraceException(TraceErrorKind.NotSupported, message,
                "Leave the function out with -ExcludeFunction (Get-UTraceFunction lists the candidates).", target, errno, errorId: "InstructionNotProbeable"),
            _ => new UtraceException(TraceErrorKind.OperationFailed, message, null, target, errno, errorId: "BpfOperationFailed"),
        };
    }

    /// <summary>
    /// The capabilities BPF tracing needs that <paramref name="effective"/> lacks, named, and what this kernel
    /// accepts; null when nothing is missing. A kernel that knows CAP_BPF (<paramref name="lastCapability"/>
    /// at least 39) accepts CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN; an older one only CAP_SYS_ADMIN.
    /// </summary>
    internal static (IReadOnlyList<string> Names, string Explanation)? MissingTracingCapabilities(ulong effective, int lastCapability)
    {
        bool Has(int capability) => (effective & (1UL << capability)) != 0;
        if (Has(CAP_SYS_ADMIN))
            return null;
        if (lastCapability < CAP_BPF)
            return (["CAP_SYS_ADMIN"], "PowerShell lacks CAP_SYS_ADMIN, which this kernel (it has no CAP_BPF) requires for BPF tracing.");
        var names = new List<string>();
        if (!Has(CAP_BPF))
            names.Add("CAP_BPF");
        if (!Has(CAP_PERFMON))
            names.Add("CAP_PERFMON");
        return names.Count == 0
            ? null
            : (names, $"PowerShell lacks {string.Join(" and ", names)}; this kernel traces with CAP_BPF and CAP_PERFMON, or with CAP_SYS_ADMIN.");
    }
}
