namespace Utrace.Native.Elf;

/// <summary>The library directories listed in /etc/ld.so.conf, which ldconfig puts into ld.so's cache.</summary>
internal static class LdSoConf
{
    internal const string DefaultPath = "/etc/ld.so.conf";

    internal static IReadOnlyList<string> Directories(string path = DefaultPath)
    {
        var directories = new List<string>();
        Read(path, directories, new HashSet<string>(StringComparer.Ordinal));
        return directories.Distinct(StringComparer.Ordinal).ToArray();
    }

    private static void Read(string path, List<string> directories, HashSet<string> visited)
    {
        // A missing or unreadable file adds nothing, as for ldconfig; visited stops include cycles.
        if (!visited.Add(path) || !File.Exists(path))
        {
            return;
        }

        foreach (var rawLine in File.ReadLines(path))
        {
            var hash = rawLine.IndexOf('#', StringComparison.Ordinal);
            var line = (hash < 0 ? rawLine : rawLine[..hash]).Trim();
            if (line.StartsWith("include", StringComparison.Ordinal) && line.Length > 7 && char.IsWhiteSpace(line[7]))
            {
                foreach (var pattern in line[8..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                {
                    foreach (var included in Glob(Path.Combine(Path.GetDirectoryName(path) ?? "/", pattern)))
                    {
                        Read(included, directories, visited);
                    }
                }
            }
            else if (line.StartsWith('/'))
            {
                directories.Add(line);
            }
        }
    }

    /// <summary>Expands wildcards in the last path component, sorted as glob(3) sorts.</summary>
    private static IEnumerable<string> Glob(string pattern)
    {
        var directory = Path.GetDirectoryName(pattern);
        var name = Path.GetFileName(pattern);
        if (directory is null || !Directory.Exists(directory))
        {
            return [];
        }

        return Directory.EnumerateFiles(directory, name).Order(StringComparer.Ordinal);
    }
}
