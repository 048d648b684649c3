using Utrace.Native.Bpf;
using Utrace.Native.Elf;
using Utrace.Native.Recording;
using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

/// <summary>
/// Measure-UTrace -Path summarizes a trace file's columns without a CallEvent per row; the
/// result must be exactly what the CallEvents of the same file give, and what a walk of the
/// call trees that made the file says.
/// </summary>
public sealed class SummaryFromFileTests : IDisposable
{
    private const int Pid = 300;
    private static readonly int[] Threads = [301, 302, 303];
    private static readonly string[] Names = ["main", "parse", "fib", "a", "b", "leaf"];
    private static readonly FunctionInfo[] Functions = Names
        .Select((name, i) => new FunctionInfo(name, name, "prog", FunctionKind.Function, 0x1000 + 0x40 * (ulong)i, 0x40, "/opt/prog"))
        .Append(new FunctionInfo("leaf", "leaf", "libother.so", FunctionKind.LibraryCall, 0x2000, 16, "/opt/prog"))
        .ToArray();

    private readonly string _folder = Directory.CreateTempSubdirectory("utrace-summary-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ColumnsGiveTheSummaryOfTheCallEventsAndOfTheCallTrees()
    {
        var calls = Generate();
        Assert.True(calls.Count > 3 * EventChunk.Capacity, $"only {calls.Count} calls: the file should span several batches");
        var path = Write(calls);

        foreach (var byThread in new[] { false, true })
        {
            var fromEvents = new CallSummaryBuilder(byThread);
            using (var file = TraceFile.Open(path))
            {
                foreach (var e in file.ReadEvents())
                    fromEvents.Add(e.Call);
            }
            var fromColumns = new CallSummaryBuilder(byThread);
            using (var file = TraceFile.Open(path))
            {
                foreach (var batch in file.ReadBatches())
                    fromColumns.Add(file.Context, batch);
            }
            Assert.Equal(fromEvents.Build().Select(Row).ToList(), fromColumns.Build().Select(Row).ToList());
        }

        // The oracle: a call counts towards its function's Total unless a reported ancestor is the same function.
        var summary = new CallSummaryBuilder(byThread: false);
        using (var file = TraceFile.Open(path))
        {
            foreach (var batch in file.ReadBatches())
                summary.Add(file.Context, batch);
        }
        var rows = summary.Build().ToDictionary(s => (s.Function, s.Module));
        var tracedNs = calls.Where(c => c.OutermostOfAll).Sum(c => c.DurationNs);
        foreach (var group in calls.GroupBy(c => (Functions[c.FunctionId].Name, Functions[c.FunctionId].Module)))
        {
            var row = rows[group.Key];
            var totalNs = group.Where(c => c.OutermostOfItsFunction).Sum(c => c.DurationNs);
            Assert.Equal(group.Count(), row.Calls);
            Assert.Equal(totalNs, row.Total.Nanoseconds);
            Assert.Equal(group.Sum(c => c.SelfNs), row.Self.Nanoseconds);
            Assert.Equal(group.Min(c => c.DurationNs), row.Min.Nanoseconds);
            Assert.Equal(group.Max(c => c.DurationNs), row.Max.Nanoseconds);
            Assert.Equal(group.Sum(c => c.DurationNs) / group.Count(), row.Average.Nanoseconds);
            Assert.Equal(Math.Round(100.0 * totalNs / tracedNs, 2), row.TotalPercent);
        }
        Assert.Equal(Functions.Length, rows.Count);
        // The trees did recurse, directly and through a -> b -> a.
        Assert.Contains(calls, c => c.FunctionId == 2 && !c.OutermostOfItsFunction);
        Assert.Contains(calls, c => c.FunctionId == 3 && !c.OutermostOfItsFunction);
    }

    private static object Row(FunctionSummary s) =>
        (s.Function, s.Module, s.ThreadId, s.Calls, s.Total, s.Self, s.Average, s.Min, s.Max, s.TotalPercent, s.SelfPercent);

    private sealed record Call(int FunctionId, int CallerId, int ThreadId, int Depth, long StartNs, long DurationNs, long SelfNs,
        bool OutermostOfItsFunction, bool OutermostOfAll);

    /// <summary>
    /// Call trees of three threads with direct (fib) and indirect (a, b) recursion, some calls
    /// filtered out with their callees as -MinDuration would (a callee is shorter than its
    /// caller), in completion order, the threads' calls interleaved.
    /// </summary>
    private static List<Call> Generate()
    {
        var random = new Random(20261127);
        var perThread = Threads.Select(tid =>
        {
            var completed = new List<Call>();
            long clock = 0;
            while (completed.Count < 20_000)
                Grow(random, completed, tid, functionId: 0, callerId: -1, depth: 0, ancestors: [], hidden: false, ref clock);
            return completed;
        }).ToList();

        // Round-robin slices of random length keep each thread's order.
        var calls = new List<Call>();
        var next = new int[perThread.Count];
        while (calls.Count < perThread.Sum(l => l.Count))
        {
            var t = random.Next(perThread.Count);
            var take = Math.Min(random.Next(1, 50), perThread[t].Count - next[t]);
            calls.AddRange(perThread[t].GetRange(next[t], take));
            next[t] += take;
        }
        return calls;
    }

    /// <summary>Makes one call and its subtree; returns its duration. Reported calls go to <paramref name="completed"/>.</summary>
    private static long Grow(Random random, List<Call> completed, int tid, int functionId, int callerId, int depth,
        List<int> ancestors, bool hidden, ref long clock)
    {
        var start = clock;
        var reported = !hidden && (depth == 0 || random.Next(10) != 0);
        var selfNs = (long)random.Next(1, 1000);
        clock += selfNs;
        if (reported)
            ancestors.Add(functionId);
        var childrenNs = 0L;
        var children = depth >= 9 ? 0 : random.Next(functionId == 0 ? 3 : 0, functionId == 0 ? 7 : 3);
        for (var i = 0; i < children; i++)
        {
            var child = Functions[functionId].Name switch
            {
                "fib" => random.Next(3) == 0 ? 5 : 2,
                "a" => 4,
                "b" => random.Next(2) == 0 ? 3 : 6,
                _ => random.Next(1, Functions.Length),
            };
            childrenNs += Grow(random, completed, tid, child, functionId, depth + 1, ancestors, hidden: !reported, ref clock);
        }
        if (reported)
        {
            ancestors.RemoveAt(ancestors.Count - 1);
            completed.Add(new Call(functionId, callerId, tid, depth, start, selfNs + childrenNs, selfNs,
                OutermostOfItsFunction: !ancestors.Contains(functionId), OutermostOfAll: ancestors.Count == 0));
        }
        return selfNs + childrenNs;
    }

    private string Write(List<Call> calls)
    {
        var path = Path.Combine(_folder, "calls.arrow");
        var writer = TraceFileWriter.Create(path, dropWhenBehind: false);
        var sink = (IEventSink)writer;
        var context = new TraceContext(Functions, 1_000_000, new DateTime(2026, 11, 27, 6, 0, 0, DateTimeKind.Utc));
        sink.Begin(context,
            new TraceOrigin { Command = "prog", ProcessIds = [Pid], HostName = "testhost", KernelRelease = "6.18.0-test" });
        foreach (var c in calls)
        {
            sink.OnEvent(new EventRecord
            {
                Type = RecordType.Call,
                FunctionId = (uint)c.FunctionId,
                CallerId = c.CallerId < 0 ? EventRecord.NoCaller : (uint)c.CallerId,
                Pid = Pid,
                Tid = (uint)c.ThreadId,
                Depth = (uint)c.Depth,
                StartNs = 1_000_000 + (ulong)c.StartNs,
                DurationNs = (ulong)c.DurationNs,
                SelfNs = (ulong)c.SelfNs,
            }.ToTracedCall(context, null));
        }
        sink.Complete();
        Assert.Equal(calls.Count, writer.EventsWritten);
        return path;
    }
}
