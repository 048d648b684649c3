using System.Management.Automation;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>Turns engine failures into PowerShell errors, in one place.</summary>
internal static class ErrorRecords
{
    /// <summary>The record for an engine failure: its own error id when it has one, else <paramref name="fallbackErrorId"/>.</summary>
    public static ErrorRecord From(UtraceException ex, string fallbackErrorId)
    {
        var category = ex.Kind switch
        {
            TraceErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            TraceErrorKind.NotFound => ErrorCategory.ObjectNotFound,
            TraceErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
            TraceErrorKind.NotSupported => ErrorCategory.NotImplemented,
            TraceErrorKind.ProcessNotFound => ErrorCategory.ObjectNotFound,
            TraceErrorKind.InvalidData => ErrorCategory.InvalidData,
            TraceErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
            _ => ErrorCategory.NotSpecified,
        };
        return Create(ex, ex.ErrorId ?? fallbackErrorId, category, ex.Target, ex.Hint);
    }

    public static ErrorRecord Create(Exception ex, string errorId, ErrorCategory category, object? target, string? hint)
    {
        var record = new ErrorRecord(ex, errorId, category, target);
        if (hint is not null)
            record.ErrorDetails = new ErrorDetails(ex.Message) { RecommendedAction = hint };
        return record;
    }
}
