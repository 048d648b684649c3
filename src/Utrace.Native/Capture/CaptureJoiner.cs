using System.Runtime.InteropServices;
using System.Text;
using Utrace.Native.Bpf;

namespace Utrace.Native.Capture;

/// <summary>
/// Pairs the capture records of the events ring with their calls. A call's arguments (and its
/// strings) come at its entry, its return value just before its own record, all from its thread
/// and in order, so a pending capture per (thread, depth) is enough: the call record that follows
/// with the same start and function takes it; one whose call was never sent (filtered in the
/// kernel) is replaced by the next call at that depth. Runs on the ring-buffer reader thread only.
/// </summary>
internal sealed class CaptureJoiner
{
    private readonly Dictionary<(uint Tid, uint Depth), Pending> _pending = new();

    /// <summary>Takes a capture record (any type other than a call's); a malformed one is ignored.</summary>
    public void Add(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(RecordType))
            return;
        switch (MemoryMarshal.Read<RecordType>(record))
        {
            case RecordType.Arguments when record.Length >= Marshal.SizeOf<ArgumentsRecord>():
                var arguments = MemoryMarshal.Read<ArgumentsRecord>(record);
                _pending[(arguments.Tid, arguments.Depth)] = new Pending(arguments.StartNs, arguments.FunctionId)
                {
                    Registers = ((ReadOnlySpan<ulong>)arguments.Values).ToArray(),
                };
                break;
            case RecordType.String when record.Length >= Marshal.SizeOf<StringRecord>():
                var text = MemoryMarshal.Read<StringRecord>(record);
                if (text.Argument < Abi.MaxArguments && _pending.TryGetValue((text.Tid, text.Depth), out var owner) && owner.Registers is not null)
                    (owner.Strings ??= new string?[Abi.MaxArguments])[text.Argument] = Decode(text);
                break;
            case RecordType.ReturnValue when record.Length >= Marshal.SizeOf<ReturnValueRecord>():
                var returned = MemoryMarshal.Read<ReturnValueRecord>(record);
                var key = (returned.Tid, returned.Depth);
                if (!_pending.TryGetValue(key, out var call) || call.StartNs != returned.StartNs || call.FunctionId != returned.FunctionId)
                    _pending[key] = call = new Pending(returned.StartNs, returned.FunctionId);
                call.ReturnValue = returned.Value;
                break;
        }
    }

    /// <summary>What was captured of the call <paramref name="record"/> reports, or null.</summary>
    public CapturedCall? Take(in EventRecord record)
    {
        if (_pending.Count == 0 || !_pending.TryGetValue((record.Tid, record.Depth), out var call)
            || call.StartNs != record.StartNs || call.FunctionId != record.FunctionId)
            return null;
        _pending.Remove((record.Tid, record.Depth));
        return new CapturedCall(call.Registers, call.Strings, call.ReturnValue);
    }

    /// <summary>The string read, "…" at its end when it went on; null when the read failed.</summary>
    private static string? Decode(in StringRecord text)
    {
        if (text.Length < 0)
            return null;
        ReadOnlySpan<byte> bytes = text.Data;
        var decoded = Encoding.UTF8.GetString(bytes[..Math.Min(text.Length, bytes.Length)]);
        return text.Truncated != 0 ? decoded + "…" : decoded;
    }

    private sealed class Pending(ulong startNs, uint functionId)
    {
        public ulong StartNs { get; } = startNs;
        public uint FunctionId { get; } = functionId;
        public ulong[]? Registers { get; init; }
        public string?[]? Strings { get; set; }
        public ulong? ReturnValue { get; set; }
    }
}
