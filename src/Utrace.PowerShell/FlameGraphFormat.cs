namespace Utrace.PowerShell;

/// <summary>What ConvertTo-UTraceFlameGraph writes.</summary>
public enum FlameGraphFormat
{
    /// <summary>A self-contained interactive SVG document, as one string.</summary>
    Svg,

    /// <summary>Folded stacks, one string per distinct stack: "main;a;b 1234" (self time in ns).</summary>
    Folded,
}
