using Xunit;

namespace Utrace.Tests.Capture;

public sealed class CallTextTests
{
    [Theory]
    [InlineData("fib", "fib")]
    [InlineData("int twice<int>(int)", "int twice<int>")]
    [InlineData("geo::Shape::area() const", "geo::Shape::area")]
    [InlineData("S::operator()(int) &&", "S::operator()")]
    [InlineData("(anonymous namespace)::helper(char const*)", "(anonymous namespace)::helper")]
    [InlineData("main::{lambda(int)#1}::operator()(int) const", "main::{lambda(int)#1}::operator()")]
    [InlineData("void apply<void (*)(int)>(void (*)(int))", "void apply<void (*)(int)>")]
    public void ANameLosesItsParameterListOnly(string function, string expected) =>
        Assert.Equal(expected, CallText.WithoutParameters(function));
}
