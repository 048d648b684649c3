using System.Runtime.InteropServices;

namespace Utrace.Native.Tracing;

/// <summary>A user from the passwd database (files, LDAP, whatever NSS is set up with).</summary>
internal sealed record UserAccount(string Name, uint Uid, uint Gid, string Home, string Shell)
{
    /// <summary>The user with this name, else with this numeric uid.</summary>
    /// <exception cref="UtraceException">No such user.</exception>
    public static unsafe UserAccount Find(string nameOrUid)
    {
        ArgumentNullException.ThrowIfNull(nameOrUid);
        var found = Lookup((entry, buffer, size, result) => Interop.Libc.GetPwNam(nameOrUid, entry, buffer, size, result));
        if (found is null && uint.TryParse(nameOrUid, out var uid))
            found = Lookup((entry, buffer, size, result) => Interop.Libc.GetPwUid(uid, entry, buffer, size, result));
        return found ?? throw new UtraceException(TraceErrorKind.NotFound, $"No user is named or numbered '{nameOrUid}'.",
            "Give a user name or uid that `getent passwd` lists, such as -RunAs $env:SUDO_USER.", nameOrUid, errorId: "UserNotFound");
    }

    private unsafe delegate int PasswdQuery(Interop.Libc.Passwd* entry, byte* buffer, nuint size, Interop.Libc.Passwd** result);

    private static unsafe UserAccount? Lookup(PasswdQuery query)
    {
        // The strings live in the buffer; grow it until they fit.
        for (var size = 1024; ; size *= 2)
        {
            var buffer = new byte[size];
            Interop.Libc.Passwd entry;
            Interop.Libc.Passwd* result;
            int errno;
            fixed (byte* bytes = buffer)
            {
                errno = query(&entry, bytes, (nuint)size, &result);
                if (errno == 0)
                {
                    return result is null ? null : new UserAccount(Text(entry.Name), entry.Uid, entry.Gid, Text(entry.Home), Text(entry.Shell));
                }
            }
            if (errno != Interop.Libc.ERANGE)
                throw new UtraceException(TraceErrorKind.OperationFailed, $"Reading the user database failed: {Interop.DescribeErrno(errno)}.",
                    "Check /etc/nsswitch.conf and the services it names.", errno: errno, errorId: "UserDatabaseUnreadable");
        }
    }

    private static string Text(IntPtr text) => Marshal.PtrToStringUTF8(text) ?? "";
}
