using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using Utrace.Native.Tracing;

namespace Utrace.Native.Elf;

/// <summary>
/// The shared libraries of one program in ld.so's search order, and which of them provides each import.
/// Libraries are opened once and cached. The list is always the dynamic linker's own: read from the
/// process of a program that runs (ForFiles with DynamicLinker's list, ForProcess), or, for a file
/// that is not running, printed by the linker asked to load it without running it (ForExecutable).
/// </summary>
internal sealed class LibraryResolver
{
    // The x86-64 ABI's dynamic linker: the one asked to list a file's libraries, never one the file names.
    private const string SystemLinker = "/lib64/ld-linux-x86-64.so.2";

    private readonly ConcurrentDictionary<string, ElfImage> _images = new(StringComparer.Ordinal);
    private readonly List<string> _libraryPaths = [];
    private readonly Lazy<Dictionary<string, string>> _providers;

    private LibraryResolver()
    {
        _providers = new Lazy<Dictionary<string, string>>(IndexProviders);
    }

    /// <summary>Full paths of the libraries, in the order ld.so searches them for a symbol.</summary>
    public IReadOnlyList<string> LibraryPaths => _libraryPaths;

    /// <summary>
    /// The libraries of <paramref name="executable"/>, a file not running, as ld.so would load them with
    /// <paramref name="ldLibraryPath"/> as LD_LIBRARY_PATH and <paramref name="ldPreload"/> as LD_PRELOAD
    /// (the rest of the environment this process's): the linker lists them itself, as ldd does
    /// (ld.so --list: it loads them and runs none of their code), in its load order, which is its
    /// search order. Libraries it cannot find are left out; a static program has none.
    /// </summary>
    public static LibraryResolver ForExecutable(ElfImage executable, string? ldLibraryPath, string? ldPreload = null)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var info = new ProcessStartInfo(SystemLinker) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("--list");
        info.ArgumentList.Add(executable.Path);
        info.Environment.Remove("LD_LIBRARY_PATH");
        info.Environment.Remove("LD_PRELOAD");
        if (ldLibraryPath is not null)
            info.Environment["LD_LIBRARY_PATH"] = ldLibraryPath;
        if (ldPreload is not null)
            info.Environment["LD_PRELOAD"] = ldPreload;
        string listing;
        try
        {
            using var linker = Process.Start(info)!;
            // Its complaints (a static program, a library not found) are no error here.
            var complaints = linker.StandardError.ReadToEndAsync();
            listing = linker.StandardOutput.ReadToEnd();
            linker.WaitForExit();
            complaints.Wait();
        }
        catch (Win32Exception)
        {
            return new LibraryResolver(); // no such linker on this system: no libraries known
        }
        return ForFiles(listing.Split('\n').Select(ListedPath).OfType<string>(), executable);
    }

    // A line of ld.so --list: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", a preloaded
    // "/path/librig.so (0x...)", the linker's own path, "linux-vdso.so.1 (0x...)", "libx.so => not found".
    private static string? ListedPath(string line)
    {
        var text = line.Trim();
        var arrow = text.IndexOf(" => ", StringComparison.Ordinal);
        if (arrow >= 0)
            text = text[(arrow + 4)..];
        var address = text.LastIndexOf(" (0x", StringComparison.Ordinal);
        if (address >= 0)
            text = text[..address];
        // A path it was given relative (LD_PRELOAD=./lib.so) is relative to its directory, which is this process's.
        return text.Contains('/', StringComparison.Ordinal) ? Path.GetFullPath(text) : null;
    }

    /// <summary>
    /// The ELF files mapped executable into a running process, other than its main executable: those its
    /// dynamic linker loaded, in its search order, then any other in map order; as paths through
    /// /proc/PID/root, which reach them from this mount namespace (a container's too).
    /// </summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    public static LibraryResolver ForProcess(int pid, ElfImage executable)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var mapped = ProcFs.ExecutableMappings(pid);
        var ordered = DynamicLinker.LoadedFilesOf(pid, executable) is { } loaded ? loaded.Where(mapped.Contains).Concat(mapped) : mapped;
        return ForFiles(ordered.Where(path => path != executable.RealPath).Select(path => ProcFs.RootedPath(pid, path)), executable);
    }

    /// <summary>
    /// The libraries at <paramref name="paths"/>, in that order (the search order when it is the dynamic
    /// linker's load order), leaving out the executable, repeats and files that are not ELF.
    /// </summary>
    public static LibraryResolver ForFiles(IEnumerable<string> paths, ElfImage executable)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var resolver = new LibraryResolver();
        foreach (var path in paths)
        {
            if (path != executable.RealPath && !resolver._libraryPaths.Contains(path) && resolver.TryOpen(path) is not null)
            {
                resolver._libraryPaths.Add(path);
            }
        }

        return resolver;
    }

    /// <summary>
    /// The DT_SONAME (else the file name) of the first library in search order whose .dynsym defines
    /// a function named <paramref name="importName"/>; null if none does.
    /// </summary>
    public string? FindProvider(string importName)
    {
        ArgumentNullException.ThrowIfNull(importName);
        return _providers.Value.GetValueOrDefault(importName);
    }

    /// <summary>The cached image of a library.</summary>
    /// <exception cref="ElfFormatException">The library cannot be read.</exception>
    public ElfImage Open(string libraryPath) => _images.GetOrAdd(libraryPath, ElfImage.Open);

    /// <summary>Sets <see cref="ElfFunction.Library"/> on each of the executable's library calls.</summary>
    public void AssignProviders(ElfImage executable)
    {
        ArgumentNullException.ThrowIfNull(executable);
        foreach (var stub in executable.LibraryCalls)
        {
            stub.Library = FindProvider(stub.RawName);
        }
    }

    private ElfImage? TryOpen(string path)
    {
        try
        {
            return Open(path);
        }
        catch (ElfFormatException)
        {
            return null;
        }
    }

    // One dictionary for every import: the first library in search order wins, as in ld.so's global scope.
    private Dictionary<string, string> IndexProviders()
    {
        var providers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in _libraryPaths)
        {
            var library = Open(path);
            var provider = library.SoName ?? library.FileName;
            foreach (var name in library.ProvidedNames)
            {
                providers.TryAdd(name, provider);
            }
        }

        return providers;
    }
}
