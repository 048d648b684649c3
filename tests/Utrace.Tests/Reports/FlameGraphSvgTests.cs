using System.Xml.Linq;
using Utrace.Native.Reports;
using Xunit;

namespace Utrace.Tests.Reports;

public sealed class FlameGraphSvgTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void DrawsOneFramePerStackScaledToItsTime()
    {
        var tree = new StackTree();
        foreach (var call in new CallTree("main", 250, new CallTree("a<b> & c", 750)).Complete(threadId: 1))
            tree.Add(call);
        var document = XDocument.Parse(FlameGraphSvg.Write(tree.Complete(), "fib <10>", 1020));

        Assert.Equal("fib <10>", document.Descendants(Svg + "text").Single(t => (string?)t.Attribute("id") == "title").Value);
        var frames = document.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "frame")
            .ToDictionary(g => g.Element(Svg + "title")!.Value, g => g.Element(Svg + "rect")!);
        Assert.Equal(["all (1.000 us, 100.00%)", "main (1.000 us, 100.00%)", "a<b> & c (750 ns, 75.00%)"], frames.Keys);
        Assert.Equal("10", (string?)frames["main (1.000 us, 100.00%)"].Attribute("x"));
        Assert.Equal("999.5", (string?)frames["main (1.000 us, 100.00%)"].Attribute("width"));
        Assert.Equal("10", (string?)frames["a<b> & c (750 ns, 75.00%)"].Attribute("x"));   // children start at their parent
        Assert.Equal("749.5", (string?)frames["a<b> & c (750 ns, 75.00%)"].Attribute("width"));
        Assert.Single(document.Descendants(Svg + "script"));
        Assert.DoesNotContain("href", document.ToString());
    }
}
