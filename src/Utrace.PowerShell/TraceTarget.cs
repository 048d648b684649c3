using Utrace.Native.Elf;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>A program to launch, resolved from what the user typed.</summary>
internal sealed record LaunchTarget(string Program, string TracedBinary, IReadOnlyList<string> Argv)
{
    /// <summary>
    /// Splits <paramref name="command"/> like a shell, appends <paramref name="argumentList"/>, and finds the
    /// program: a path through <paramref name="resolvePath"/> (PowerShell's provider), a name on PATH.
    /// </summary>
    public static LaunchTarget Resolve(string command, IReadOnlyList<string>? argumentList, string workingDirectory, Func<string, string> resolvePath)
    {
        var words = CommandLine.Split(command).Concat(argumentList ?? []).ToArray();
        if (words.Length == 0)
            throw new UtraceException(TraceErrorKind.InvalidArgument, "The command is empty.", "Give a program to run, such as -Command './fib 10'.", errorId: "EmptyCommand");
        var path = Environment.GetEnvironmentVariable("PATH");
        var program = CommandLine.ResolveProgram(resolvePath(words[0]), workingDirectory, path);
        return new LaunchTarget(program, CommandLine.ExecutedBinary(program, workingDirectory, path), words);
    }

    /// <summary>A file to read functions from: an existing file-system path, or a program name on PATH.</summary>
    public static LaunchTarget FromFile(string program, string workingDirectory)
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        // A shared library is not executable, yet worth listing: a path only has to exist.
        var resolved = File.Exists(program) ? program : CommandLine.ResolveProgram(program, workingDirectory, path);
        return new LaunchTarget(resolved, CommandLine.ExecutedBinary(resolved, workingDirectory, path), [program]);
    }

    /// <summary>For a script, says which interpreter is traced in its place; null for a binary.</summary>
    public string? InterpreterNote => TracedBinary == Program
        ? null
        : $"{Argv[0]} is a script: {ElfImage.ResolveRealPath(TracedBinary)}, its interpreter, is what is traced.";

    public FunctionCatalog LoadCatalog() =>
        FunctionCatalog.ForExecutable(TracedBinary, Environment.GetEnvironmentVariable("LD_LIBRARY_PATH"),
            Environment.GetEnvironmentVariable("LD_PRELOAD"));
}
