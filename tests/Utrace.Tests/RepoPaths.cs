namespace Utrace.Tests;

/// <summary>Finds files of the repository from the test assembly's location.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string File(string relative) => Path.Combine(Root, relative);

    // The tests run from tests/Utrace.Tests/bin/...; a copy elsewhere names the repository in UTRACE_REPO.
    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(directory.FullName, "utrace.sln")))
                return directory.FullName;
        }
        return Environment.GetEnvironmentVariable("UTRACE_REPO") is { Length: > 0 } repo
            ? repo
            : throw new InvalidOperationException($"No utrace.sln above {AppContext.BaseDirectory}, and UTRACE_REPO is not set.");
    }
}
