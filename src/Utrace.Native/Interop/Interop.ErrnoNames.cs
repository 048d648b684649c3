using System.Runtime.InteropServices;

namespace Utrace.Native;

internal static partial class Interop
{
    // Linux errno names, by number (x86-64, asm-generic); 41 and 58 are unused.
    private static readonly string?[] ErrnoNames =
    [
        null, "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
        "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR",
        "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS",
        "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP",
        null, "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI",
        "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", null, "EBFONT", "ENOSTR",
        "ENODATA", "ETIME", "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM",
        "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD",
        "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE",
        "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN",
        "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT",
        "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL", "EISNAM",
        "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED", "EOWNERDEAD",
        "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
    ];

    // The kernel's internal codes (include/linux/errno.h). They should stay inside the kernel, but some
    // leak to user space (a uprobe on an instruction the kernel cannot probe fails with ENOTSUPP), and
    // the C library has no text for them.
    private static readonly Dictionary<int, (string Name, string Meaning)> KernelInternalErrnos = new()
    {
        [512] = ("ERESTARTSYS", "Interrupted system call, to be restarted (kernel internal)"),
        [513] = ("ERESTARTNOINTR", "System call to be restarted (kernel internal)"),
        [514] = ("ERESTARTNOHAND", "Interrupted system call, to be restarted if no signal handler ran (kernel internal)"),
        [515] = ("ENOIOCTLCMD", "No such ioctl command (kernel internal)"),
        [516] = ("ERESTART_RESTARTBLOCK", "Interrupted system call, to be restarted by restart_syscall (kernel internal)"),
        [517] = ("EPROBE_DEFER", "Driver requests probe retry (kernel internal)"),
        [518] = ("EOPENSTALE", "Open found a stale dentry (kernel internal)"),
        [519] = ("ENOPARAM", "Parameter not supported (kernel internal)"),
        [521] = ("EBADHANDLE", "Illegal NFS file handle"),
        [522] = ("ENOTSYNC", "Update synchronization mismatch"),
        [523] = ("EBADCOOKIE", "Cookie is stale"),
        [524] = ("ENOTSUPP", "Operation not supported (the kernel cannot probe this instruction)"),
        [525] = ("ETOOSMALL", "Buffer or request is too small"),
        [526] = ("ESERVERFAULT", "An untranslatable error occurred"),
        [527] = ("EBADTYPE", "Type not supported by server"),
        [528] = ("EJUKEBOX", "Request initiated, but will not complete before timeout"),
        [529] = ("EIOCBQUEUED", "Iocb queued, will get completion event"),
        [530] = ("ERECALLCONFLICT", "Conflict with recalled state"),
        [531] = ("ENOGRACE", "NFS file lock reclaim refused"),
    };

    /// <summary>The symbolic name of an errno (EPERM, ENOTSUPP), or null for a number Linux does not define.</summary>
    internal static string? ErrnoName(int errno) =>
        errno > 0 && errno < ErrnoNames.Length ? ErrnoNames[errno]
        : KernelInternalErrnos.TryGetValue(errno, out var kernel) ? kernel.Name : null;

    /// <summary>What an errno means, with its name and number: "Operation not permitted (EPERM, errno 1)".</summary>
    internal static string DescribeErrno(int errno)
    {
        if (KernelInternalErrnos.TryGetValue(errno, out var kernel))
            return $"{kernel.Meaning} ({kernel.Name}, errno {errno})";
        if (ErrnoName(errno) is { } name)
            return $"{Marshal.GetPInvokeErrorMessage(errno)} ({name}, errno {errno})";
        return errno > 0 ? $"Unknown error (errno {errno})" : "Unknown error (no errno)";
    }
}
