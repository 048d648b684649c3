using Utrace.Native.Tracing;

namespace Utrace;

/// <summary>
/// A capture spec for the functions whose demangled or raw name <see cref="Matches"/> accepts
/// (the cmdlets pass a PowerShell wildcard, named by <see cref="Pattern"/>); a null
/// <see cref="Spec"/> is "auto": each function's own spec from its debug info or the libc prototypes.
/// </summary>
public sealed record CaptureRule(string Pattern, Func<string, bool> Matches, CaptureSpec? Spec)
{
    /// <summary>The word that asks for the automatic spec in place of a written one.</summary>
    public const string Automatic = "auto";

    /// <summary>
    /// The spec of each function (by id), null for one without. Every rule must match a traced
    /// function, and two written rules that match one function must agree, or a <see cref="UtraceException"/>
    /// says which; a written spec wins over "auto".
    /// </summary>
    internal static CaptureSpec?[] Resolve(IReadOnlyList<CaptureRule> rules, IReadOnlyList<FunctionInfo> functions)
    {
        var specs = new CaptureSpec?[functions.Count];
        var ruleOf = new CaptureRule?[functions.Count];
        // Written rules first, so that "auto" only fills in the functions they leave.
        foreach (var rule in rules.OrderBy(rule => rule.Spec is null))
        {
            var matched = false;
            for (var id = 0; id < functions.Count; id++)
            {
                if (!rule.Matches(functions[id].Name) && !rule.Matches(functions[id].RawName))
                    continue;
                matched = true;
                if (rule.Spec is null)
                {
                    if (ruleOf[id] is null)
                        specs[id] ??= AutomaticCapture.For(functions[id]);
                    continue;
                }
                if (ruleOf[id] is { Spec: { } earlierSpec } earlier && earlierSpec.ToString() != rule.Spec.ToString())
                    throw new UtraceException(TraceErrorKind.InvalidArgument,
                        $"-Capture gives {functions[id].Name} two specs: '{earlier.Spec}' by '{earlier.Pattern}' and '{rule.Spec}' by '{rule.Pattern}'.",
                        "Make the patterns match different functions, or give them the same spec.", rule.Pattern, errorId: "CaptureConflict");
                specs[id] = rule.Spec;
                ruleOf[id] = rule;
            }
            if (!matched)
                throw new UtraceException(TraceErrorKind.NotFound,
                    $"The -Capture pattern '{rule.Pattern}' matches no traced function.",
                    "Capture only functions that are traced: check the pattern against Get-UTraceFunction with the same -Function, -Library and -NestLibrary.",
                    rule.Pattern, errorId: "CaptureMatchesNothing");
        }
        return specs;
    }
}
