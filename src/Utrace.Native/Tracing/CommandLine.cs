using System.Text;

namespace Utrace.Native.Tracing;

/// <summary>Splits a command line and finds its program, the way a POSIX shell would.</summary>
internal static class CommandLine
{
    /// <summary>
    /// Splits on unquoted white space; single quotes keep everything literally, double quotes
    /// keep white space and honour backslash before <c>"</c>, <c>\</c>, <c>$</c> and <c>`</c>;
    /// an unquoted backslash escapes the next character.
    /// </summary>
    public static IReadOnlyList<string> Split(string commandLine)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < commandLine.Length; i++)
        {
            var c = commandLine[i];
            switch (c)
            {
                case '\'':
                    var close = commandLine.IndexOf('\'', i + 1);
                    if (close < 0)
                        throw Unterminated(commandLine, "single");
                    word.Append(commandLine, i + 1, close - i - 1);
                    i = close;
                    inWord = true;
                    break;
                case '"':
                    i = ReadDoubleQuoted(commandLine, i + 1, word);
                    inWord = true;
                    break;
                case '\\' when i + 1 < commandLine.Length:
                    word.Append(commandLine[++i]);
                    inWord = true;
                    break;
                case ' ' or '\t' or '\n':
                    if (inWord)
                        words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                    break;
                default:
                    word.Append(c);
                    inWord = true;
                    break;
            }
        }
        if (inWord)
            words.Add(word.ToString());
        return words;
    }

    /// <summary>
    /// The full path of a program: a name with a slash is taken relative to <paramref name="workingDirectory"/>,
    /// a bare name is looked up on <paramref name="searchPath"/> (PATH).
    /// </summary>
    public static string ResolveProgram(string program, string workingDirectory, string? searchPath)
    {
        if (program.Contains('/'))
        {
            var full = Path.GetFullPath(program, workingDirectory);
            if (IsExecutableFile(full))
                return full;
            if (!File.Exists(full))
                throw NotFound(program, "Check the path; relative paths start from the current location.");
            if (!LooksLikeProgram(full))
                throw new UtraceException(TraceErrorKind.InvalidArgument, $"'{program}' is not a program: it is neither an ELF executable nor a #! script.",
                    "Give the program to run (Get-UTraceFunction -Path reads a shared library too).", program, errorId: "NotAProgram");
            throw new UtraceException(TraceErrorKind.PermissionDenied, $"'{program}' is a program, but not executable.",
                $"Make it executable: chmod +x '{full}'.", program, errorId: "ProgramNotExecutable");
        }
        foreach (var dir in (searchPath ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(Path.GetFullPath(dir, workingDirectory), program);
            if (IsExecutableFile(candidate))
                return candidate;
        }
        throw NotFound(program, "It is not on PATH: give its path, such as ./" + program + ".");
    }

    /// <summary>
    /// The ELF file the kernel will run for <paramref name="path"/>: the file itself, or for a
    /// script the interpreter named on its #! line (through /usr/bin/env too).
    /// </summary>
    public static string ExecutedBinary(string path, string workingDirectory, string? searchPath)
    {
        Span<byte> head = stackalloc byte[256];
        int read;
        using (var file = File.OpenRead(path))
            read = file.Read(head);
        if (read < 2 || head[0] != '#' || head[1] != '!')
            return path;
        var line = Encoding.UTF8.GetString(head[2..read]).Split('\n')[0];
        var words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
            return path;
        var interpreter = words[0];
        if (Path.GetFileName(interpreter) == "env" && words.Length > 1 && !words[1].StartsWith('-'))
            interpreter = ResolveProgram(words[1], workingDirectory, searchPath);
        else if (!IsExecutableFile(interpreter))
            throw new UtraceException(TraceErrorKind.NotFound, $"'{path}' is a script for '{interpreter}', which is not an executable file.",
                "Install that interpreter, or fix the script's #! line.", path, errorId: "InterpreterNotFound");
        return ExecutedBinary(interpreter, workingDirectory, searchPath);
    }

    private static ReadOnlySpan<byte> ElfMagic => [0x7f, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>An ELF file or a #! script, whatever its mode.</summary>
    private static bool LooksLikeProgram(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var file = File.OpenRead(path);
        var read = file.Read(head);
        return (read >= 2 && head[0] == '#' && head[1] == '!') || (read == 4 && head.SequenceEqual(ElfMagic));
    }

    private static bool IsExecutableFile(string path) =>
        File.Exists(path) && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    private static int ReadDoubleQuoted(string text, int i, StringBuilder word)
    {
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"')
                return i;
            if (c == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\' or '$' or '`')
                c = text[++i];
            word.Append(c);
        }
        throw Unterminated(text, "double");
    }

    private static UtraceException Unterminated(string commandLine, string kind) =>
        new(TraceErrorKind.InvalidArgument, $"The command line has an unterminated {kind} quote: {commandLine}",
            "Close the quote, or pass arguments separately with -ArgumentList.", commandLine, errorId: "UnterminatedQuote");

    private static UtraceException NotFound(string program, string hint) =>
        new(TraceErrorKind.NotFound, $"Cannot find the program '{program}'.", hint, program, errorId: "ProgramNotFound");
}
