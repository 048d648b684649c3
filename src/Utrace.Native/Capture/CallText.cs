namespace Utrace;

/// <summary>
/// A call as the default table view shows it. With captured arguments, it is written as a call is
/// written in C, as uftrace writes it: the function's name, the values in parentheses, then the
/// return value (<c>fib(10) = 55</c>); a demangled C++ name gives up its declared parameter list for
/// the values (<c>twice&lt;int&gt;(3) = 6</c>, not <c>twice&lt;int&gt;(int)(3)</c>). Without, the name as it is.
/// </summary>
public static class CallText
{
    public static string Of(CallEvent call)
    {
        var returned = call.ReturnValue is { } value ? " = " + CallArguments.ShowValue(value) : "";
        return call.Arguments is { } arguments
            ? $"{WithoutParameters(call.Function)}({arguments}){returned}"
            : call.Function + returned;
    }

    /// <summary>
    /// A demangled name without its parameter list and what follows it (<c>const</c>, <c>&amp;&amp;</c>):
    /// <c>ns::f(int) const</c> is <c>ns::f</c>, <c>S::operator()(int)</c> is <c>S::operator()</c>.
    /// A C name, which has none, comes back as it is.
    /// </summary>
    public static string WithoutParameters(string function)
    {
        // The parameter list is the one whose ')' is the name's last: match it back to its '('.
        var close = function.LastIndexOf(')');
        var depth = 0;
        for (var i = close; i > 0; i--)
        {
            if (function[i] == ')')
                depth++;
            else if (function[i] == '(' && --depth == 0)
                return function[..i];
        }
        return function;
    }
}
