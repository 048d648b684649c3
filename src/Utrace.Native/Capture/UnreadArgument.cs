namespace Utrace;

/// <summary>
/// A parameter Utrace does not read, by its C type: a floating-point value (passed in an SSE
/// register), a struct by value, or one after such a struct (whose registers depend on its layout).
/// Shown as &lt;double&gt;, never as a number it is not.
/// </summary>
public sealed record UnreadArgument(string CType)
{
    public override string ToString() => $"<{CType}>";
}
