using Utrace.Native.Elf;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>A program to launch, resolved from what the user typed.</summary>
internal sealed record LaunchTarget(string Program, string TracedBinary, IReadOnlyList<string> Argv)
{
    /// <summary>
    /// Splits <paramref name="command"/> like a shell, appends <paramref name="argumentList"/>, and finds the
    /// program relative to <paramref name="workingDirectory"/> or on PATH.
    /// </summary>
    public static LaunchTarget Resolve(string command, IReadOnlyList<string>? argumentList, string workingDirectory)
    {
        var words = CommandLine.Split(command).Concat(argumentList ?? []).ToArray();
        if (words.Length == 0)
            throw new UtraceException(TraceErrorKind.InvalidArgument, "The command is empty.", "Give a program to run, such as -Command './fib 10'.");
        var path = Environment.GetEnvironmentVariable("PATH");
        var program = CommandLine.ResolveProgram(words[0], workingDirectory, path);
        return new LaunchTarget(program, CommandLine.ExecutedBinary(program, workingDirectory, path), words);
    }

    /// <summary>A file to read functions from, given by path or by a program name on PATH; not split into words.</summary>
    public static LaunchTarget FromFile(string program, string workingDirectory)
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        // A shared library is not executable, yet worth listing: a path only has to exist.
        var full = Path.GetFullPath(program, workingDirectory);
        var resolved = program.Contains('/') && File.Exists(full) ? full : CommandLine.ResolveProgram(program, workingDirectory, path);
        return new LaunchTarget(resolved, CommandLine.ExecutedBinary(resolved, workingDirectory, path), [program]);
    }

    /// <summary>For a script, says which interpreter is traced in its place; null for a binary.</summary>
    public string? InterpreterNote => TracedBinary == Program
        ? null
        : $"{Argv[0]} is a script: {ElfImage.ResolveRealPath(TracedBinary)}, its interpreter, is what is traced.";

    public FunctionCatalog LoadCatalog() =>
        FunctionCatalog.ForExecutable(TracedBinary, Environment.GetEnvironmentVariable("LD_LIBRARY_PATH"));
}
