using System.Globalization;
using System.Text;

namespace Utrace.Native.Reports;

/// <summary>
/// Writes a <see cref="StackTree"/> as a self-contained interactive SVG flame graph (no external
/// script, style or font): hover shows function, time and percent; a click zooms into a frame;
/// Search highlights frames by regular expression. <c>?s=regex</c> and <c>?z=function</c> in the
/// URL search and zoom when the page opens.
/// </summary>
internal static class FlameGraphSvg
{
    private const int FrameHeight = 16;
    private const int Margin = 10;
    private const int HeaderHeight = 34;
    private const int FooterHeight = 24;

    /// <summary>Advance of one character of the 12 px monospace font, for fitting labels.</summary>
    private const double CharWidth = 7.3;

    /// <summary>Frames narrower than this (pixels, at full width) are left out, as flamegraph.pl does.</summary>
    private const double MinFrameWidth = 0.1;

    public static string Write(StackTree tree, string title, int width)
    {
        var total = tree.Root.TotalNs;
        var frames = new List<(StackTree.Frame Frame, int Depth, double X, long TotalNs)>();
        var plotWidth = width - 2 * Margin;
        if (total > 0)
            Layout(tree.Root, 0, 0, total, plotWidth, frames);
        var maxDepth = frames.Count == 0 ? 0 : frames.Max(f => f.Depth);
        var height = HeaderHeight + (maxDepth + 1) * FrameHeight + FooterHeight;

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $$"""
            <?xml version="1.0" encoding="utf-8" standalone="no"?>
            <svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}" data-total-ns="{{total}}" data-margin="{{Margin}}" data-char-width="{{CharWidth}}">
            <style>
            text { font-family: monospace; font-size: 12px; fill: #000; }
            .frame:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }
            .frame text { pointer-events: none; }
            .hidden { display: none; }
            .ancestor rect { opacity: 0.5; }
            .button { cursor: pointer; fill: #1a5fb4; }
            #title { font-size: 16px; }
            </style>
            <rect x="0" y="0" width="{{width}}" height="{{height}}" fill="#f8f8f0"/>
            <text id="title" x="{{width / 2}}" y="20" text-anchor="middle">{{Escape(title)}}</text>
            <text id="reset" class="button hidden" x="{{Margin}}" y="20">Reset zoom</text>
            <text id="search" class="button" x="{{width - Margin}}" y="20" text-anchor="end">Search</text>
            <text id="details" x="{{Margin}}" y="{{height - 8}}"> </text>
            <text id="matched" x="{{width - Margin}}" y="{{height - 8}}" text-anchor="end"> </text>
            <g id="frames">

            """);
        foreach (var (frame, depth, x, frameNs) in frames)
        {
            var name = depth == 0 ? "all" : frame.Name;
            var y = height - FooterHeight - (depth + 1) * FrameHeight;
            var fraction = (double)frameNs / total;
            var left = Margin + x / total * plotWidth;
            var frameWidth = fraction * plotWidth;
            svg.Append(CultureInfo.InvariantCulture, $"""
                <g class="frame" data-x="{x / total:0.#########}" data-w="{fraction:0.#########}" data-d="{depth}" data-ns="{frameNs}"><title>{Escape(name)} ({Duration.FromNanoseconds(frameNs).ToString(null, CultureInfo.InvariantCulture)}, {fraction * 100:0.00}%){SourceLine(frame)}</title><rect x="{left:0.##}" y="{y}" width="{Math.Max(frameWidth - 0.5, 0.1):0.##}" height="{FrameHeight - 1}" rx="2" fill="{Color(name, depth)}"/><text x="{left + 3:0.##}" y="{y + FrameHeight - 4}">{Escape(Label(name, frameWidth))}</text></g>

                """);
        }
        svg.Append("</g>\n<script><![CDATA[\n").Append(Script).Append("\n]]></script>\n</svg>\n");
        return svg.ToString();
    }

    /// <summary>The tooltip's second line: the function's source file and line, when debug info gave them.</summary>
    private static string SourceLine(StackTree.Frame frame) => frame.Source is { } source ? "\n" + Escape(source.ToString()) : "";

    private static void Layout(StackTree.Frame frame, int depth, long x, long total, int plotWidth,
        List<(StackTree.Frame, int, double, long)> frames)
    {
        var frameNs = frame.TotalNs;
        if ((double)frameNs / total * plotWidth < MinFrameWidth)
            return;
        frames.Add((frame, depth, x, frameNs));
        var childX = x;
        foreach (var child in frame.Children.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var childNs = child.TotalNs;
            Layout(child, depth + 1, childX, total, plotWidth, frames);
            childX += childNs;
        }
    }

    /// <summary>A warm colour that depends only on the name, so a function keeps its colour across graphs.</summary>
    private static string Color(string name, int depth)
    {
        if (depth == 0)
            return "rgb(200,200,200)";
        var hash = 2166136261u;
        foreach (var c in name)
            hash = (hash ^ c) * 16777619u;
        var red = 205 + (int)(hash % 51);
        var green = (int)(hash / 51 % 231);
        var blue = (int)(hash / 51 / 231 % 56);
        return string.Create(CultureInfo.InvariantCulture, $"rgb({red},{green},{blue})");
    }

    /// <summary>The name shortened to fit the frame (the page's script does the same when zooming).</summary>
    private static string Label(string name, double frameWidth)
    {
        var fits = (int)Math.Floor((frameWidth - 6) / CharWidth);
        if (fits < 3)
            return "";
        return name.Length <= fits ? name : name[..(fits - 2)] + "..";
    }

    private static string Escape(string text) => text
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&quot;", StringComparison.Ordinal);

    // Lays frames out for the current zoom (x and width are fractions of the whole trace),
    // shortens labels to their frame, and wires hover, click-to-zoom and search.
    private const string Script = """
        (function () {
          var svg = document.documentElement;
          var margin = +svg.getAttribute('data-margin');
          var plotWidth = +svg.getAttribute('width') - 2 * margin;
          var charWidth = +svg.getAttribute('data-char-width');
          var frames = Array.prototype.slice.call(document.querySelectorAll('.frame'));
          var details = document.getElementById('details');
          var matched = document.getElementById('matched');
          var reset = document.getElementById('reset');
          var zoomed = null;

          function name(g) { return g.querySelector('title').textContent.split('\n')[0].replace(/ \([^()]*\)$/, ''); }
          function label(g, width) {
            var text = name(g), fits = Math.floor((width - 6) / charWidth);
            if (fits < 3) return '';
            return text.length <= fits ? text : text.substring(0, fits - 2) + '..';
          }
          function layout() {
            var zx = zoomed ? +zoomed.getAttribute('data-x') : 0;
            var zw = zoomed ? +zoomed.getAttribute('data-w') : 1;
            var zd = zoomed ? +zoomed.getAttribute('data-d') : 0;
            var shown = 0;
            frames.forEach(function (g) {
              var x = +g.getAttribute('data-x'), w = +g.getAttribute('data-w'), d = +g.getAttribute('data-d');
              var inside = x >= zx - 1e-12 && x + w <= zx + zw + 1e-12;
              var encloses = d < zd && x <= zx + 1e-12 && x + w >= zx + zw - 1e-12;
              g.classList.toggle('hidden', !(inside && d >= zd) && !encloses);
              g.classList.toggle('ancestor', encloses);
              if (g.classList.contains('hidden')) return;
              shown++;
              var px = encloses ? margin : margin + (x - zx) / zw * plotWidth;
              var pw = encloses ? plotWidth : w / zw * plotWidth;
              var rect = g.querySelector('rect'), text = g.querySelector('text');
              rect.setAttribute('x', px.toFixed(2));
              rect.setAttribute('width', Math.max(pw - 0.5, 0.1).toFixed(2));
              text.setAttribute('x', (px + 3).toFixed(2));
              text.textContent = label(g, pw);
            });
            reset.classList.toggle('hidden', !zoomed);
            svg.setAttribute('data-shown', shown);
          }
          function zoom(g) {
            zoomed = g && +g.getAttribute('data-d') > 0 ? g : null;
            svg.setAttribute('data-zoomed', zoomed ? name(zoomed) : '');
            layout();
          }
          function search(pattern) {
            var re, intervals = [];
            try { re = pattern ? new RegExp(pattern) : null; } catch (e) { re = null; }
            frames.forEach(function (g) {
              var hit = !!re && +g.getAttribute('data-d') > 0 && re.test(name(g));
              var rect = g.querySelector('rect');
              if (!rect.hasAttribute('data-fill')) rect.setAttribute('data-fill', rect.getAttribute('fill'));
              rect.setAttribute('fill', hit ? 'rgb(230,0,230)' : rect.getAttribute('data-fill'));
              if (hit) intervals.push([+g.getAttribute('data-x'), +g.getAttribute('data-w')]);
            });
            // Nested matches lie inside their matching ancestor: count each stretch once.
            intervals.sort(function (a, b) { return a[0] - b[0]; });
            var covered = 0, end = 0;
            intervals.forEach(function (i) {
              var from = Math.max(i[0], end), to = i[0] + i[1];
              if (to > from) { covered += to - from; end = to; }
            });
            matched.textContent = re ? 'Matched: ' + (covered * 100).toFixed(2) + '%' : ' ';
            svg.setAttribute('data-matched', re ? (covered * 100).toFixed(2) : '');
          }
          frames.forEach(function (g) {
            g.addEventListener('mouseover', function () { details.textContent = g.querySelector('title').textContent; });
            g.addEventListener('mouseout', function () { details.textContent = ' '; });
            g.addEventListener('click', function () { zoom(g); });
          });
          reset.addEventListener('click', function () { zoom(null); });
          document.getElementById('search').addEventListener('click', function () {
            var pattern = window.prompt('Search (regular expression)', '');
            if (pattern !== null) search(pattern);
          });
          var params = new URLSearchParams(window.location.search);
          var target = params.get('z');
          zoom(target ? frames.filter(function (g) { return name(g) === target; })
                              .sort(function (a, b) { return b.getAttribute('data-w') - a.getAttribute('data-w'); })[0] : null);
          if (params.get('s')) search(params.get('s'));
          svg.setAttribute('data-ready', 'true');
        })();
        """;
}
