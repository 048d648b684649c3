using System.Collections;
using System.Management.Automation;

namespace Utrace.PowerShell;

/// <summary>
/// Lets -Capture take the word Auto alone: it stands for @{ '*' = 'auto' }, every traced function's
/// spec from its debug info or Utrace's libc prototypes. Any other string is refused with the two forms -Capture takes.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class CaptureArgumentAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is not string word)
            return inputData;
        if (word.Trim().Equals(CaptureRule.Automatic, StringComparison.OrdinalIgnoreCase))
            return new Hashtable { ["*"] = CaptureRule.Automatic };
        throw new ArgumentTransformationMetadataException(
            $"'{word}' is neither Auto nor a hashtable. Write -Capture Auto for the specs debug info and Utrace's libc prototypes give, " +
            "or a hashtable of function wildcard to spec: @{ fib = 'int -> int'; 'str*' = 'auto' }.");
    }
}
