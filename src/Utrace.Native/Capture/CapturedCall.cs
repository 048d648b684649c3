namespace Utrace;

/// <summary>
/// What the kernel captured of one call, before it is typed by the function's <see cref="CaptureSpec"/>:
/// the six argument registers, the C strings read for string arguments (null where none was read),
/// and rax at the return. A trace file stores exactly this.
/// </summary>
public sealed class CapturedCall
{
    public CapturedCall(IReadOnlyList<ulong>? registers, IReadOnlyList<string?>? strings, ulong? returnValue)
    {
        Registers = registers;
        Strings = strings;
        ReturnValue = returnValue;
    }

    /// <summary>rdi, rsi, rdx, rcx, r8, r9 at entry; null when the entry's record was not seen.</summary>
    public IReadOnlyList<ulong>? Registers { get; }

    /// <summary>By argument position: the string read, or null (not a string, NULL, or unreadable).</summary>
    public IReadOnlyList<string?>? Strings { get; }

    /// <summary>rax at the return; null when no return value was seen.</summary>
    public ulong? ReturnValue { get; }
}
