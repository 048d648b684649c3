using Google.Protobuf;

namespace Utrace.Native.Reports;

/// <summary>
/// Writes protobuf messages to a stream, nested ones included, without building message
/// objects: a nested message is encoded into a buffer of its own level (reused), then written
/// to its parent with its length. Level 0 is the stream itself.
/// </summary>
internal sealed class ProtoStreamWriter : IDisposable
{
    private readonly List<(Stream Bytes, CodedOutputStream Output)> _levels = [];
    private readonly Stack<int> _openFields = new();

    public ProtoStreamWriter(Stream output) => _levels.Add((output, new CodedOutputStream(output, leaveOpen: true)));

    /// <summary>Where the fields of the innermost open message go.</summary>
    public CodedOutputStream Output => _levels[_openFields.Count].Output;

    /// <summary>Opens field <paramref name="fieldNumber"/> of the current message as a nested message.</summary>
    public void BeginMessage(int fieldNumber)
    {
        _openFields.Push(fieldNumber);
        if (_levels.Count == _openFields.Count)
        {
            var bytes = new MemoryStream();
            _levels.Add((bytes, new CodedOutputStream(bytes, leaveOpen: true)));
        }
    }

    /// <summary>Closes the innermost message: its length and bytes go to its parent.</summary>
    public void EndMessage()
    {
        var (stream, output) = _levels[_openFields.Count];
        output.Flush();
        var bytes = (MemoryStream)stream;
        var (parentStream, parent) = _levels[_openFields.Count - 1];
        parent.WriteTag(_openFields.Pop(), WireFormat.WireType.LengthDelimited);
        parent.WriteLength((int)bytes.Length);
        // The parent's buffered bytes go first, then these straight to its stream.
        parent.Flush();
        parentStream.Write(bytes.GetBuffer(), 0, (int)bytes.Length);
        bytes.SetLength(0);
    }

    /// <summary>
    /// A varint field: uint64, and also int32, int64 (a negative value as its two's complement)
    /// and bool (0 or 1), which protobuf encodes the same way.
    /// </summary>
    public void WriteVarint(int fieldNumber, ulong value)
    {
        Output.WriteTag(fieldNumber, WireFormat.WireType.Varint);
        Output.WriteUInt64(value);
    }

    public void WriteString(int fieldNumber, string value)
    {
        Output.WriteTag(fieldNumber, WireFormat.WireType.LengthDelimited);
        Output.WriteString(value);
    }

    /// <summary>Writes what is buffered to the stream.</summary>
    public void Flush() => _levels[0].Output.Flush();

    /// <summary>Flushes; the stream itself stays open.</summary>
    public void Dispose()
    {
        _levels[0].Output.Dispose();
        foreach (var (bytes, _) in _levels.Skip(1))
            bytes.Dispose();
    }
}
