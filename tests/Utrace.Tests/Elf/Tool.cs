using System.Diagnostics;

namespace Utrace.Tests.Elf;

/// <summary>Runs a command-line tool and returns what it printed; a failure fails the test.</summary>
internal static class Tool
{
    public static string Run(string fileName, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // The tests parse the output, so it must not be translated.
        startInfo.Environment["LC_ALL"] = "C";
        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"{fileName} did not start");
        var standardError = process.StandardError.ReadToEndAsync();
        var standardOutput = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{fileName} {string.Join(' ', arguments)} exited with {process.ExitCode}:{Environment.NewLine}{standardError.Result}");
        }

        return standardOutput;
    }
}
