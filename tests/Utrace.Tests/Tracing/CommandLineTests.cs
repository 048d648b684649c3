using Utrace.Native.Tracing;
using Xunit;

namespace Utrace.Tests.Tracing;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData("./fib 10", new[] { "./fib", "10" })]
    [InlineData("  sort   -n  ", new[] { "sort", "-n" })]
    [InlineData("echo 'a b' \"c d\"", new[] { "echo", "a b", "c d" })]
    [InlineData("echo 'it''s'", new[] { "echo", "its" })]
    [InlineData("echo \"say \\\"hi\\\"\" \\$HOME", new[] { "echo", "say \"hi\"", "$HOME" })]
    [InlineData("echo a\\ b", new[] { "echo", "a b" })]
    [InlineData("echo ''", new[] { "echo", "" })]
    [InlineData("python3 -c 'print(1)'", new[] { "python3", "-c", "print(1)" })]
    public void SplitsLikeAShell(string commandLine, string[] words) =>
        Assert.Equal(words, CommandLine.Split(commandLine));

    [Theory]
    [InlineData("echo 'open")]
    [InlineData("echo \"open")]
    public void RejectsAnUnterminatedQuote(string commandLine)
    {
        var error = Assert.Throws<UtraceException>(() => CommandLine.Split(commandLine));
        Assert.Equal(TraceErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("-ArgumentList", error.Hint);
    }

    [Fact]
    public void FindsProgramsOnPathAndRelativeToTheLocation()
    {
        Assert.Equal("/usr/bin/sort", CommandLine.ResolveProgram("sort", "/", "/nonexistent:/usr/bin"));
        Assert.Equal("/usr/bin/sort", CommandLine.ResolveProgram("./sort", "/usr/bin", null));
        Assert.Equal("/usr/bin/sort", CommandLine.ResolveProgram("../bin/sort", "/usr/lib", null));
    }

    [Theory]
    [InlineData("no-such-program-here", TraceErrorKind.NotFound, "ProgramNotFound", "PATH")]
    [InlineData("./no-such-file", TraceErrorKind.NotFound, "ProgramNotFound", "current location")]
    [InlineData("./notes.txt", TraceErrorKind.InvalidArgument, "NotAProgram", "Give the program to run")]
    [InlineData("./script.sh", TraceErrorKind.PermissionDenied, "ProgramNotExecutable", "chmod +x")]
    [InlineData("./elf", TraceErrorKind.PermissionDenied, "ProgramNotExecutable", "chmod +x")]
    public void ExplainsAProgramItCannotRun(string program, TraceErrorKind kind, string errorId, string hint)
    {
        var dir = Directory.CreateTempSubdirectory("utrace-resolve");
        File.WriteAllText(Path.Combine(dir.FullName, "notes.txt"), "not a program");
        File.WriteAllText(Path.Combine(dir.FullName, "script.sh"), "#!/bin/sh\necho hi\n");
        // An ELF file without its exec bit: a copy gets the default mode 0644 here.
        File.WriteAllBytes(Path.Combine(dir.FullName, "elf"), File.ReadAllBytes("/usr/bin/sort"));
        File.SetUnixFileMode(Path.Combine(dir.FullName, "elf"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var error = Assert.Throws<UtraceException>(() => CommandLine.ResolveProgram(program, dir.FullName, "/usr/bin"));
        Assert.Equal(kind, error.Kind);
        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains(hint, error.Hint);
    }

    [Fact]
    public void TracesTheInterpreterOfAScript()
    {
        var dir = Directory.CreateTempSubdirectory("utrace-script");
        var direct = Path.Combine(dir.FullName, "direct.sh");
        var viaEnv = Path.Combine(dir.FullName, "env.py");
        File.WriteAllText(direct, "#!/bin/sh\necho hi\n");
        File.WriteAllText(viaEnv, "#!/usr/bin/env python3\nprint(1)\n");
        Assert.Equal("/bin/sh", CommandLine.ExecutedBinary(direct, dir.FullName, "/usr/bin"));
        Assert.Equal("/usr/bin/python3", CommandLine.ExecutedBinary(viaEnv, dir.FullName, "/usr/bin"));
        Assert.Equal("/usr/bin/sort", CommandLine.ExecutedBinary("/usr/bin/sort", dir.FullName, "/usr/bin"));
    }
}
