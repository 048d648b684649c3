using System.Diagnostics;
using Utrace.Native.Elf;
using Utrace.Tests.Elf;
using Utrace.Tests.PowerShell;
using Xunit;
using Xunit.Abstractions;

namespace Utrace.Tests.EndToEnd;

/// <summary>
/// Ctrl+C in a real, hosted PowerShell: stopping the pipeline detaches every probe (the int3 the
/// kernel wrote over the function's first byte is gone from the process's memory), a process
/// traced by -ProcessId keeps running, and a -Command child is terminated.
/// </summary>
[Collection(ElfFixturesCollection.Name)]
public sealed class StopProcessingTests : IClassFixture<HostedPowerShell>
{
    private const byte Int3 = 0xCC;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly ElfFixtures _fixtures;
    private readonly HostedPowerShell _shell;
    private readonly ITestOutputHelper _output;

    public StopProcessingTests(ElfFixtures fixtures, HostedPowerShell shell, ITestOutputHelper output)
    {
        _fixtures = fixtures;
        _shell = shell;
        _output = output;
    }

    [Fact]
    public void StoppingATraceByProcessIdDetachesAndLeavesTheProcessRunning()
    {
        var path = _fixtures.PathOf("gcc-O2-pie/server");
        var handleRequest = ElfImage.Open(path).Functions.Single(f => f.RawName == "handle_request");
        using var server = StartServer(path);
        var original = File.ReadAllBytes(path)[handleRequest.FileOffset];
        Assert.NotEqual(Int3, original);

        using var trace = _shell.Create("Start-UTrace -ProcessId $serverId -Function handle_request -Confirm:$false",
            new Dictionary<string, object?> { ["serverId"] = server.Id });
        var output = new System.Management.Automation.PSDataCollection<System.Management.Automation.PSObject>();
        trace.BeginInvoke<object, System.Management.Automation.PSObject>(null, output);
        Assert.True(WaitFor(() => ReadLiveByte(server.Id, path, handleRequest.FileOffset) == Int3), "the probe never appeared");
        Request(server);
        Assert.True(WaitFor(() => output.Count == 1), "the traced call never reached the pipeline");

        var clock = Stopwatch.StartNew();
        trace.Stop();
        _output.WriteLine($"Stop() returned after {clock.Elapsed.TotalMilliseconds:0} ms");

        Assert.Equal(original, ReadLiveByte(server.Id, path, handleRequest.FileOffset));
        Assert.Equal("handle_request", ((CallEvent)output[0].BaseObject).Function);
        Request(server);
        Assert.False(server.HasExited);
        server.StandardInput.Close();
        Assert.True(server.WaitForExit(5000));
        Assert.Equal(0, server.ExitCode);
    }

    [Fact]
    public void StoppingATraceOfACommandTerminatesTheCommand()
    {
        using var trace = _shell.Create("Start-UTrace -Command 'sleep 30' -Verbose");
        trace.BeginInvoke();
        var started = new System.Text.RegularExpressions.Regex(@"^Trace \d+: .* of process (\d+)");
        Assert.True(WaitFor(() => trace.Streams.Verbose.Any(v => started.IsMatch(v.Message))), "the trace never started");
        var pid = int.Parse(started.Match(trace.Streams.Verbose.First(v => started.IsMatch(v.Message)).Message).Groups[1].Value);
        var clock = Stopwatch.StartNew();
        trace.Stop();
        _output.WriteLine($"Stop() returned after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} still runs");
    }

    [Fact]
    public void StoppingASummaryKeepsTheKernelsFiguresInTheSummaryVariable()
    {
        using var server = StartServer(_fixtures.PathOf("gcc-O2-pie/server"));
        using var trace = _shell.Create("Start-UTrace -ProcessId $serverId -Function handle_request -Summary -SummaryVariable stopped -Confirm:$false -Verbose",
            new Dictionary<string, object?> { ["serverId"] = server.Id });
        trace.BeginInvoke();
        Assert.True(WaitFor(() => trace.Streams.Verbose.Any(v => v.Message.StartsWith("Trace ", StringComparison.Ordinal))), "the trace never started");
        for (var i = 0; i < 3; i++)
            Request(server);

        trace.Stop();

        // Ctrl+C: nothing more can be written, but the summaries are not thrown away.
        var summary = (TraceSummary)_shell.Run("$stopped")[0].BaseObject;
        Assert.Equal(TraceState.Stopped, summary.State);
        var handled = Assert.Single(summary.Functions);
        Assert.Equal(("handle_request", 3L), (handled.Function, handled.Calls));
        server.StandardInput.Close();
        Assert.True(server.WaitForExit(5000));
    }

    private static Process StartServer(string path)
    {
        var server = Process.Start(new ProcessStartInfo(path) { RedirectStandardInput = true, RedirectStandardOutput = true })!;
        Assert.Equal("ready", server.StandardOutput.ReadLine());
        return server;
    }

    private static void Request(Process server)
    {
        server.StandardInput.WriteLine("request");
        server.StandardInput.Flush();
        Assert.Equal("done", server.StandardOutput.ReadLine());
    }

    /// <summary>The byte at a file offset of <paramref name="path"/> as mapped in the live process.</summary>
    private static byte ReadLiveByte(int pid, string path, ulong fileOffset)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[5].Trim() != path)
                continue;
            var range = fields[0].Split('-');
            var start = Convert.ToUInt64(range[0], 16);
            var end = Convert.ToUInt64(range[1], 16);
            var mapOffset = Convert.ToUInt64(fields[2], 16);
            if (fileOffset < mapOffset || fileOffset >= mapOffset + (end - start))
                continue;
            using var memory = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read);
            memory.Seek((long)(start + fileOffset - mapOffset), SeekOrigin.Begin);
            return (byte)memory.ReadByte();
        }
        throw new InvalidOperationException($"{path} offset 0x{fileOffset:x} is not mapped in process {pid}.");
    }

    private static bool WaitFor(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience)
                return false;
            Thread.Sleep(10);
        }
        return true;
    }
}
