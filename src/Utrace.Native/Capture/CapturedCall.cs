using Utrace.Native.Bpf;

namespace Utrace;

/// <summary>
/// What the kernel captured of one call, before it is typed by the function's <see cref="CaptureSpec"/>:
/// the six argument registers, the C strings read for string arguments (null where none was read),
/// and rax at the return. A trace file stores exactly this.
/// </summary>
public sealed class CapturedCall
{
    // Straight from the kernel's record, the registers stay inline: a captured call read off the ring is
    // one object, not two (the reader makes one per call, and a job keeps them all).
    private readonly ArgumentValues _inlineRegisters;
    private readonly bool _registersInline;
    private readonly IReadOnlyList<ulong>? _registers;

    public CapturedCall(IReadOnlyList<ulong>? registers, IReadOnlyList<string?>? strings, ulong? returnValue)
    {
        _registers = registers;
        Strings = strings;
        ReturnValue = returnValue;
    }

    internal CapturedCall(in ArgumentValues registers, IReadOnlyList<string?>? strings, ulong? returnValue)
        : this(null, strings, returnValue)
    {
        _inlineRegisters = registers;
        _registersInline = true;
    }

    /// <summary>rdi, rsi, rdx, rcx, r8, r9 at entry; null when the entry's record was not seen.</summary>
    public IReadOnlyList<ulong>? Registers => _registersInline ? RegisterValues.ToArray() : _registers;

    /// <summary>The registers without a copy; empty when they were not captured.</summary>
    internal ReadOnlySpan<ulong> RegisterValues => _registersInline ? _inlineRegisters : _registers as ulong[] ?? _registers?.ToArray() ?? [];

    /// <summary>By argument position: the string read, or null (not a string, NULL, or unreadable).</summary>
    public IReadOnlyList<string?>? Strings { get; }

    /// <summary>rax at the return; null when no return value was seen.</summary>
    public ulong? ReturnValue { get; }
}
