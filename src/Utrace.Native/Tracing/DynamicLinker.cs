using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using Utrace.Native.Bpf;
using Utrace.Native.Elf;

namespace Utrace.Native.Tracing;

/// <summary>
/// A program's dynamic linker as debuggers meet it (glibc's &lt;link.h&gt;): it calls _dl_debug_state
/// whenever its list of libraries changes, and keeps that list from _r_debug on, a chain of link_map
/// entries in the order it loaded them, which is the order it searches them for a symbol. What it
/// loaded is then what it chose (LD_PRELOAD, /etc/ld.so.preload, its cache, glibc-hwcaps, $LIB...).
/// </summary>
internal sealed class DynamicLinker
{
    private const ulong AT_BASE = 7; // where the kernel loaded the dynamic linker

    // x86_64 offsets of r_debug.r_map, link_map.l_ld (its dynamic section) and link_map.l_next.
    private const ulong FirstEntryOffset = 8;
    private const ulong DynamicSectionOffset = 16;
    private const ulong NextEntryOffset = 24;

    // A chain read while it changes could loop.
    private const int MaxEntries = 65536;

    // Mapping the libraries takes milliseconds; a slow disk or a huge LD_PRELOAD, more.
    private static readonly TimeSpan LoadTimeout = TimeSpan.FromSeconds(30);

    private readonly string _path;
    private readonly ElfFunction _stateFunction;
    private readonly ulong _rendezvousAddress;

    private DynamicLinker(string path, ElfFunction stateFunction, ulong rendezvousAddress)
    {
        _path = path;
        _stateFunction = stateFunction;
        _rendezvousAddress = rendezvousAddress;
    }

    /// <summary>The dynamic linker of <paramref name="executable"/>; null for a static program, or a linker that keeps no rendezvous.</summary>
    public static DynamicLinker? Of(ElfImage executable) => executable.Interpreter is { } path ? At(path) : null;

    /// <summary>
    /// The files the dynamic linker of running process <paramref name="pid"/> (whose executable is
    /// <paramref name="executable"/>) has loaded, in its search order; null when they cannot be read
    /// (a static program, a process on its way out), which its maps still list.
    /// </summary>
    public static IReadOnlyList<string>? LoadedFilesOf(int pid, ElfImage executable)
    {
        if (executable.Interpreter is not { } path || At(ProcFs.RootedPath(pid, path)) is not { } linker)
            return null;
        try
        {
            return linker.LoadedFiles(pid);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or UtraceException)
        {
            return null;
        }
    }

    private static DynamicLinker? At(string path)
    {
        ElfImage linker;
        try
        {
            linker = ElfImage.Open(path);
        }
        catch (ElfFormatException)
        {
            return null;
        }
        return linker.Exports.FirstOrDefault(f => f.RawName == "_dl_debug_state") is { } stateFunction && linker.RendezvousAddress is { } rendezvous
            ? new DynamicLinker(path, stateFunction, rendezvous)
            : null;
    }

    /// <summary>
    /// Lets process <paramref name="pid"/>, about to run this linker, go on by <paramref name="resume"/> and
    /// holds it stopped where the linker has loaded its libraries (preloaded ones too), before any
    /// constructor runs; returns <see cref="LoadedFiles"/> then. <paramref name="follow"/> holds the probe that stops it.
    /// </summary>
    /// <exception cref="UtraceException">The process exited first, or the linker did not report in time, or its list could not be read.</exception>
    public IReadOnlyList<string> HoldWhenLoaded(FollowProgram follow, int pid, Action resume, string program)
    {
        using (follow.AttachLibrariesMapped(pid, _path, _stateFunction.FileOffset, _rendezvousAddress - _stateFunction.Address))
        {
            resume();
            WaitUntilStopped(pid, program);
        }
        try
        {
            return LoadedFiles(pid);
        }
        catch (IOException ex)
        {
            throw new UtraceException(TraceErrorKind.OperationFailed, $"The libraries of {program} could not be read from process {pid}: {ex.Message}",
                null, pid, inner: ex, errorId: "LibrariesUnreadable");
        }
    }

    // The stop comes from the probe on the linker (bpf/utrace-follow.bpf.c, utrace_libraries_mapped).
    private static void WaitUntilStopped(int pid, string program)
    {
        var waited = Stopwatch.StartNew();
        while (!ProcFs.IsStopped(pid))
        {
            if (!ProcFs.IsRunning(pid))
                throw new UtraceException(TraceErrorKind.ProcessNotFound,
                    $"{program} exited before its dynamic linker had loaded its libraries; its own error, if any, is printed above.",
                    "Run the program without Utrace to see why it does not start (a missing library, a file that cannot be executed).",
                    pid, errorId: "ProgramExitedAtStart");
            if (waited.Elapsed > LoadTimeout)
                throw new UtraceException(TraceErrorKind.OperationFailed, $"The dynamic linker of {program} did not report its libraries in time.",
                    null, pid, errorId: "LibrariesTimedOut");
            Thread.Sleep(1);
        }
    }

    /// <summary>
    /// The files this linker has loaded into process <paramref name="pid"/> (stopped), the executable
    /// first, in its order; paths as the process maps them.
    /// </summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    /// <exception cref="IOException">Its memory could not be read.</exception>
    private IReadOnlyList<string> LoadedFiles(int pid)
    {
        var mappings = ProcFs.FileMappings(pid);
        var linkerBase = ProcFs.AuxiliaryValue(pid, AT_BASE)
            ?? throw new IOException($"Process {pid} has no dynamic linker in its auxiliary vector.");
        using var memory = ProcFs.OpenMemory(pid);
        var files = new List<string>();
        var entry = ReadWord(memory, linkerBase + _rendezvousAddress + FirstEntryOffset);
        for (var count = 0; entry != 0 && count < MaxEntries; count++, entry = ReadWord(memory, entry + NextEntryOffset))
        {
            // An entry's dynamic section lies in a mapping of its file; the vDSO's in none.
            var dynamic = ReadWord(memory, entry + DynamicSectionOffset);
            if (mappings.FirstOrDefault(m => m.Start <= dynamic && dynamic < m.End) is { Path: { } path })
                files.Add(path);
        }
        return files;
    }

    private static ulong ReadWord(SafeFileHandle memory, ulong address)
    {
        Span<byte> word = stackalloc byte[sizeof(ulong)];
        if (RandomAccess.Read(memory, word, (long)address) != word.Length)
            throw new IOException($"Cannot read the dynamic linker's list of libraries at 0x{address:x}.");
        return BinaryPrimitives.ReadUInt64LittleEndian(word);
    }
}
