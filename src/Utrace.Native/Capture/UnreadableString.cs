namespace Utrace;

/// <summary>
/// A C-string argument the kernel could not read at the call's entry (an address not mapped, or
/// a string lost to a full ring buffer): never an empty string in disguise.
/// </summary>
public sealed record UnreadableString(Pointer Address)
{
    public override string ToString() => $"<unreadable {Address}>";
}
