using System.Runtime.CompilerServices;
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
    // Pending captures are structs in the dictionary, filled in place: the reader handles a captured
    // call's three records without a heap object of its own (a Pending object per call, promoted
    // while the reader ran behind, was what made captured traces lose calls).
    private static readonly int StringDataOffset = (int)Marshal.OffsetOf<StringRecord>(nameof(StringRecord.Data));
    private readonly Dictionary<ulong, Pending> _pending = new();
    private readonly DecodedString[] _lastStrings = new DecodedString[Abi.MaxArguments];
    private string?[]? _lastStringsArray;

    /// <summary>Takes a capture record (any type other than a call's); a malformed one is ignored.</summary>
    public void Add(ReadOnlySpan<byte> record)
    {
        if (record.Length < sizeof(RecordType))
            return;
        switch (MemoryMarshal.Read<RecordType>(record))
        {
            case RecordType.Arguments when record.Length >= Unsafe.SizeOf<ArgumentsRecord>():
                ref readonly var arguments = ref MemoryMarshal.AsRef<ArgumentsRecord>(record);
                ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_pending, Key(arguments.Tid, arguments.Depth), out _);
                entry = new Pending { StartNs = arguments.StartNs, FunctionId = arguments.FunctionId, HasRegisters = true, Registers = arguments.Values };
                break;
            case RecordType.String when record.Length >= StringDataOffset:
                // The kernel sends a string record only as long as its string.
                var text = default(StringRecord);
                var available = Math.Min(record.Length, Unsafe.SizeOf<StringRecord>());
                record[..available].CopyTo(MemoryMarshal.AsBytes(new Span<StringRecord>(ref text)));
                ref var owner = ref CollectionsMarshal.GetValueRefOrNullRef(_pending, Key(text.Tid, text.Depth));
                if (text.Argument < Abi.MaxArguments && !Unsafe.IsNullRef(ref owner) && owner.HasRegisters)
                {
                    owner.Strings[(int)text.Argument] = Decode(text, available - StringDataOffset);
                    owner.HasStrings = true;
                }
                break;
            case RecordType.ReturnValue when record.Length >= Unsafe.SizeOf<ReturnValueRecord>():
                ref readonly var returned = ref MemoryMarshal.AsRef<ReturnValueRecord>(record);
                ref var call = ref CollectionsMarshal.GetValueRefOrAddDefault(_pending, Key(returned.Tid, returned.Depth), out var existed);
                if (!existed || call.StartNs != returned.StartNs || call.FunctionId != returned.FunctionId)
                    call = new Pending { StartNs = returned.StartNs, FunctionId = returned.FunctionId };
                call.ReturnValue = returned.Value;
                break;
        }
    }

    /// <summary>What was captured of the call <paramref name="record"/> reports, or null.</summary>
    public CapturedCall? Take(in EventRecord record)
    {
        var key = Key(record.Tid, record.Depth);
        if (_pending.Count == 0 || !_pending.Remove(key, out var call))
            return null;
        if (call.StartNs != record.StartNs || call.FunctionId != record.FunctionId)
        {
            _pending[key] = call; // another call's (one filtered in the kernel): the next call at this depth replaces it
            return null;
        }
        var strings = call.HasStrings ? StringsArray(call.Strings) : null;
        return call.HasRegisters ? new CapturedCall(call.Registers, strings, call.ReturnValue) : new CapturedCall(null, strings, call.ReturnValue);
    }

    private static ulong Key(uint tid, uint depth) => (ulong)tid << 32 | depth;

    /// <summary>
    /// The string read, "…" at its end when it went on; null when the read failed. A function called
    /// in a loop mostly passes the same text again: the last string of each argument position is
    /// reused when its bytes are the same, so such a call costs no new string.
    /// </summary>
    private string? Decode(in StringRecord text, int dataBytes)
    {
        if (text.Length < 0)
            return null;
        ReadOnlySpan<byte> bytes = text.Data;
        bytes = bytes[..Math.Min(text.Length, dataBytes)];
        ref var last = ref _lastStrings[(int)text.Argument];
        var cut = text.Truncated != 0;
        if (last.Text is not null && last.Cut == cut && bytes.SequenceEqual(last.Bytes.AsSpan(0, last.Length)))
            return last.Text;
        var decoded = Encoding.UTF8.GetString(bytes);
        last.Bytes ??= new byte[Abi.StringBytes];
        bytes.CopyTo(last.Bytes);
        last.Length = bytes.Length;
        last.Cut = cut;
        return last.Text = cut ? decoded + "…" : decoded;
    }

    /// <summary>The call's strings by position; the previous call's array when they are the same strings.</summary>
    private string?[] StringsArray(in CallStrings strings)
    {
        if (_lastStringsArray is null || !((ReadOnlySpan<string?>)strings).SequenceEqual(_lastStringsArray))
            _lastStringsArray = ((ReadOnlySpan<string?>)strings).ToArray();
        return _lastStringsArray;
    }

    private struct Pending
    {
        public ulong StartNs;
        public uint FunctionId;
        public bool HasRegisters;
        public ArgumentValues Registers;
        public bool HasStrings;
        public CallStrings Strings;
        public ulong? ReturnValue;
    }

    [InlineArray(Abi.MaxArguments)]
    private struct CallStrings
    {
        private string? _first;
    }

    private struct DecodedString
    {
        public byte[]? Bytes;
        public int Length;
        public bool Cut;
        public string? Text;
    }
}
