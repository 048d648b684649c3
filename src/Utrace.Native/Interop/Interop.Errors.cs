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

    /// <summary>The errno of the last libbpf or libc call made with SetLastError.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>Maps an errno from a BPF operation to an engine error with a hint, in one place.</summary>
    internal static UtraceException BpfError(int errno, string operation, object? target = null)
    {
        var reason = errno > 0 ? Marshal.GetPInvokeErrorMessage(errno) : "unknown error";
        var message = $"{operation} failed: {reason} (errno {errno}).";
        var details = LibbpfLog.Recent();
        if (details.Length > 0)
            message += Environment.NewLine + details;
        return errno switch
        {
            EPERM or EACCES => new UtraceException(TraceErrorKind.PermissionDenied, message,
                "Tracing needs root (or CAP_BPF and CAP_PERFMON): run PowerShell with sudo.", target, errno),
            ENOENT => new UtraceException(TraceErrorKind.NotFound, message,
                "Check that the file exists and is readable.", target, errno),
            ESRCH => new UtraceException(TraceErrorKind.ProcessNotFound, message,
                "The process exited; check the id with Get-Process.", target, errno),
            ENOSYS or EOPNOTSUPP => new UtraceException(TraceErrorKind.NotSupported, message,
                "This kernel lacks a BPF feature Utrace needs (uprobes, BTF or multi-uprobe links).", target, errno),
            _ => new UtraceException(TraceErrorKind.OperationFailed, message, null, target, errno),
        };
    }
}
