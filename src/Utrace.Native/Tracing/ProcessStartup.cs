using System.Diagnostics;
using Utrace.Native.Elf;

namespace Utrace.Native.Tracing;

/// <summary>
/// A process caught just after exec has only its executable and the dynamic linker mapped; the
/// linker maps the libraries within milliseconds, before main. Functions read that early would
/// lack every library, so a reader that may meet a process that is starting waits for them.
/// </summary>
internal static class ProcessStartup
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Waits, at most <paramref name="timeout"/>, until the process has mapped the dynamic linker and
    /// as many libraries as its executable names in DT_NEEDED (the linker maps those first): returns
    /// at once for a static program, a process that has started, or one that has exited.
    /// </summary>
    public static void WaitForLibraries(int pid, ElfImage executable, TimeSpan timeout)
    {
        if (executable.Interpreter is not { } interpreter)
            return;
        // An executable may name the linker among its libraries: it is mapped once.
        var linker = Path.GetFileName(interpreter);
        var expected = 1 + executable.Needed.Distinct(StringComparer.Ordinal).Count(name => name != linker);
        var waited = Stopwatch.StartNew();
        while (MappedLibraryCount(pid, executable) is { } mapped && mapped < expected && waited.Elapsed < timeout)
            Thread.Sleep(PollInterval);
    }

    /// <summary>The files other than the executable mapped executable, or null if the process has exited.</summary>
    private static int? MappedLibraryCount(int pid, ElfImage executable)
    {
        try
        {
            return ProcFs.ExecutableMappings(pid).Where(path => path != executable.RealPath).Distinct(StringComparer.Ordinal).Count();
        }
        catch (UtraceException)
        {
            return null;
        }
    }
}
