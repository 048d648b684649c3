using Utrace.Native.Bpf;
using Utrace.Native.Elf;
using Utrace.Native.Recording;

namespace Utrace.Tests.Recording;

/// <summary>
/// Events made from their index by a formula, written by the real writer, so a test knows
/// every value it should read back without keeping the events.
/// </summary>
internal static class SyntheticTrace
{
    public const ulong StartMonotonicNs = 5_000_000_000;
    public const int Pid = 4242;

    public static readonly FunctionInfo[] Functions =
    [
        new("main", "main", "app", FunctionKind.Function, 0x1130, 42, "/opt/app/bin/app"),
        new("geo::Shape::area() const", "_ZNK3geo5Shape4areaEv", "app", FunctionKind.Function, 0x1200, 17, "/opt/app/bin/app"),
        new("malloc", "malloc", "libc.so.6", FunctionKind.LibraryCall, 0x1030, 16, "/opt/app/bin/app"),
    ];

    public static readonly DateTime StartTime = new(2026, 11, 27, 3, 14, 15, DateTimeKind.Utc);

    public static readonly TraceOrigin Origin = new()
    {
        Command = "app --fast 'two words'",
        ProcessIds = [Pid],
        HostName = "testhost",
        KernelRelease = "6.18.0-test",
    };

    // Traced on the origin's host: each row of a file names its host.
    public static TraceContext Context { get; } = new(Functions, StartMonotonicNs, StartTime) { HostName = Origin.HostName };

    public static int FunctionId(long i) => (int)(i % Functions.Length);

    /// <summary>-1 (outermost) for every fifth event.</summary>
    public static int CallerId(long i) => i % 5 == 0 ? -1 : (int)((i + 1) % Functions.Length);

    public static int Tid(long i) => Pid + (int)(i % 4);

    public static int Depth(long i) => i % 5 == 0 ? 0 : 1 + (int)(i % 7);

    public static ulong Start(long i) => StartMonotonicNs + (ulong)i * 1_000;

    public static long Duration(long i) => 500 + i % 1_000;

    public static long Self(long i) => Duration(i) - i % 100;

    public static EventRecord Record(long i) => new()
    {
        FunctionId = (uint)FunctionId(i),
        CallerId = CallerId(i) < 0 ? EventRecord.NoCaller : (uint)CallerId(i),
        Pid = Pid,
        Tid = (uint)Tid(i),
        Depth = (uint)Depth(i),
        StartNs = Start(i),
        DurationNs = (ulong)Duration(i),
        SelfNs = (ulong)Self(i),
    };

    /// <summary>Event <paramref name="i"/> as the sink takes it, from the wire as a live trace reads it.</summary>
    public static TracedCall Call(long i) => Record(i).ToTracedCall(Context, null);

    /// <summary>Writes events 0 to <paramref name="count"/> - 1 with a writer that waits rather than drops.</summary>
    public static TraceFileWriter Write(string path, long count)
    {
        var writer = TraceFileWriter.Create(path, dropWhenBehind: false);
        var sink = (IEventSink)writer;
        sink.Begin(Context, Origin);
        for (long i = 0; i < count; i++)
            sink.OnEvent(Call(i));
        sink.Complete();
        return writer;
    }
}
