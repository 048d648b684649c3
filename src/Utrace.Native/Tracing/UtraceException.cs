namespace Utrace;

/// <summary>What went wrong, so the PowerShell layer can pick the right ErrorCategory.</summary>
public enum TraceErrorKind
{
    InvalidArgument,
    NotFound,
    PermissionDenied,
    NotSupported,
    ProcessNotFound,
    InvalidData,
    ResourceUnavailable,
    OperationFailed,
}

/// <summary>A failure of the engine, with a hint that tells the user how to fix it.</summary>
public sealed class UtraceException : Exception
{
    public UtraceException(TraceErrorKind kind, string message, string? hint = null, object? target = null, int errno = 0,
        Exception? inner = null, string? errorId = null)
        : base(message, inner)
    {
        Kind = kind;
        Hint = hint;
        Target = target;
        Errno = errno;
        ErrorId = errorId;
    }

    public TraceErrorKind Kind { get; }
    public string? Hint { get; }
    public object? Target { get; }
    public int Errno { get; }

    /// <summary>A stable name for this kind of failure (ProcessExited, InvalidWildcardPattern, ...); null for the generic ones.</summary>
    public string? ErrorId { get; }
}
