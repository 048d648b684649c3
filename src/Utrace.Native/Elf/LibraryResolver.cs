using System.Collections.Concurrent;
using Utrace.Native.Tracing;

namespace Utrace.Native.Elf;

/// <summary>
/// The shared libraries of one program in ld.so's search order, and which of them provides each import.
/// Libraries are opened once and cached.
/// </summary>
internal sealed class LibraryResolver
{
    // ld.so's built-in directories for x86_64, after its cache; Debian's multiarch ones first.
    private static readonly string[] DefaultDirectories =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

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
    /// Resolves the libraries of <paramref name="executable"/> as ld.so would when launching it with
    /// <paramref name="ldLibraryPath"/> as LD_LIBRARY_PATH and <paramref name="ldPreload"/> as LD_PRELOAD:
    /// the preloaded libraries (and /etc/ld.so.preload's) first, then the DT_NEEDED tree breadth-first.
    /// Libraries that cannot be found are left out.
    /// </summary>
    public static LibraryResolver ForExecutable(ElfImage executable, string? ldLibraryPath, string? ldPreload = null)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var resolver = new LibraryResolver();
        var environmentDirectories = (ldLibraryPath ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        var systemDirectories = LdSoConf.Directories().Concat(DefaultDirectories).ToArray();
        var resolvedNames = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<(ElfImage Image, IReadOnlyList<string> LoaderRPaths)>();
        queue.Enqueue((executable, []));
        // Preloaded libraries come right after the executable in the symbol search order, their own needs later.
        foreach (var name in PreloadNames(ldPreload))
        {
            if (resolvedNames.Add(name) && resolver.Locate(name, environmentDirectories.Concat(systemDirectories)) is { } library)
            {
                resolver._libraryPaths.Add(library.Path);
                queue.Enqueue((library, []));
            }
        }

        while (queue.TryDequeue(out var item))
        {
            var (image, loaderRPaths) = item;
            // ld.so uses the DT_RPATH of the requesting file and of the files that loaded it, up to the executable,
            // but none of them when the requesting file has DT_RUNPATH (whose presence also voids its own DT_RPATH).
            var hasRunPath = image.RunPaths.Count > 0 && !image.RunPathsFromRPath;
            IReadOnlyList<string> rpaths = [.. image.RunPathsFromRPath ? image.RunPaths : [], .. loaderRPaths];
            var directories = (hasRunPath ? [] : rpaths)
                .Concat(environmentDirectories)
                .Concat(hasRunPath ? image.RunPaths : [])
                .Concat(systemDirectories)
                .ToArray();
            foreach (var name in image.Needed)
            {
                if (!resolvedNames.Add(name) || resolver.Locate(name, directories) is not { } library)
                {
                    continue;
                }

                resolver._libraryPaths.Add(library.Path);
                queue.Enqueue((library, rpaths));
            }
        }

        return resolver;
    }

    // LD_PRELOAD's entries (separated by spaces or colons), then /etc/ld.so.preload's (by white space), as ld.so reads them.
    private static IEnumerable<string> PreloadNames(string? ldPreload)
    {
        var fromFile = File.Exists(PreloadFile) ? File.ReadAllText(PreloadFile) : "";
        return (ldPreload ?? "").Split([' ', ':'], StringSplitOptions.RemoveEmptyEntries)
            .Concat(fromFile.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries));
    }

    private const string PreloadFile = "/etc/ld.so.preload";

    /// <summary>
    /// The ELF files mapped executable into a running process, other than its main executable, in map order,
    /// as paths through /proc/PID/root, which reach them from this mount namespace (a container's too).
    /// </summary>
    /// <exception cref="UtraceException">The process exited.</exception>
    public static LibraryResolver ForProcess(int pid, ElfImage executable)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var resolver = new LibraryResolver();
        foreach (var path in ProcFs.ExecutableMappings(pid))
        {
            var reachable = ProcFs.RootedPath(pid, path);
            if (path != executable.RealPath && !resolver._libraryPaths.Contains(reachable) && resolver.TryOpen(reachable) is not null)
            {
                resolver._libraryPaths.Add(reachable);
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

    /// <summary>The first loadable file named <paramref name="name"/> in <paramref name="directories"/>; ld.so skips files of another architecture.</summary>
    private ElfImage? Locate(string name, IEnumerable<string> directories)
    {
        // A DT_NEEDED with a slash is a path, not a name to search for.
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return TryOpen(name);
        }

        // File.Exists first: most directories lack the file, and a failed open costs an exception.
        return directories
            .Select(directory => Path.Join(directory, name))
            .Where(File.Exists)
            .Select(TryOpen)
            .FirstOrDefault(image => image is not null);
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
