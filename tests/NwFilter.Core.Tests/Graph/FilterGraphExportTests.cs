using System.Diagnostics;
using System.Text.RegularExpressions;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Graph;

/// <summary>The filter DAG of clean-traffic as DOT and Mermaid: the nodes, edges, rule counts and variables, and DOT that graphviz renders.</summary>
public sealed partial class FilterGraphExportTests
{
    private static readonly IFilterSource Filters = new InMemoryFilterSource([.. BuiltInFilters.All, BindingLab.TestEth0]);

    private static FilterGraphModel CleanTraffic() => FilterGraphExport.Build(Filters, Filters.Find("clean-traffic")!);

    [Fact]
    public void CleanTrafficsGraphHasEveryFilterOnceWithItsRuleCountAndVariables()
    {
        var graph = CleanTraffic();
        var top = Filters.Find("clean-traffic")!;
        Assert.Equal("clean-traffic", graph.Nodes[0].Name);
        Assert.Equal(graph.Nodes.Length, graph.Nodes.Select(n => n.Name).Distinct().Count());
        Assert.Equal(top.References.Select(r => r.Filter), graph.Edges.Where(e => e.From == "clean-traffic").Select(e => e.To));
        foreach (var node in graph.Nodes)
        {
            var filter = Filters.Find(node.Name)!;
            Assert.Equal(filter.Rules.Count(), node.Rules);
            Assert.Equal(filter.Chain, node.Chain);
        }
        Assert.Contains("IP", graph.Nodes.Single(n => n.Name == "no-ip-spoofing").Variables);
        Assert.Contains("MAC", graph.Nodes.Single(n => n.Name == "no-mac-spoofing").Variables);
        // no-arp-spoofing is reached through clean-traffic and refers on: its children are in the graph too.
        Assert.Contains(graph.Edges, e => e.From == "no-arp-spoofing" && e.To == "no-arp-mac-spoofing");
    }

    [Fact]
    public void AMissingFilterIsDrawnDashedAndABindingSitsAboveTheTree()
    {
        var top = Build.Filter("top", Build.Ref("absent", ("X", "1")));
        var graph = FilterGraphExport.Build(new InMemoryFilterSource(top), top, "vnet0 52:54:00:00:00:01", Build.Params(("IP", "10.0.0.5")));
        Assert.True(graph.Nodes.Single(n => n.Name == "absent").Missing);
        var dot = FilterGraphExport.ToDot(graph);
        Assert.Contains("\"f:absent\" [label=\"absent\\n(missing)\", style=dashed];", dot, StringComparison.Ordinal);
        Assert.Contains("\"f:top\" -> \"f:absent\" [label=\"X=1\"];", dot, StringComparison.Ordinal);
        Assert.Contains("\"binding\" -> \"f:top\";", dot, StringComparison.Ordinal);
        var mermaid = FilterGraphExport.ToMermaid(graph);
        Assert.Contains("b([\"vnet0 52:54:00:00:00:01<br/>IP=10.0.0.5\"]) --> n0", mermaid, StringComparison.Ordinal);
        Assert.Contains("n0 -->|\"X=1\"| n1", mermaid, StringComparison.Ordinal);
        Assert.Contains("style n1 stroke-dasharray: 5 5", mermaid, StringComparison.Ordinal);
    }

    [Fact]
    public void QuotesInNamesCannotBreakOutOfTheirLabels()
    {
        Assert.Equal("\"a\\\"b\\\\c\\nd\"", FilterGraphExport.DotString("a\"b\\c\nd"));
        Assert.Equal("a#quot;b#lt;br/#gt;#124;", FilterGraphExport.MermaidText("a\"b<br/>|"));
    }

    [Fact]
    public void TheDotOfCleanTrafficRendersWithGraphvizOrElseParses()
    {
        var graph = CleanTraffic();
        var dot = FilterGraphExport.ToDot(graph);
        if (FindDot() is { } dotProgram)
        {
            using var process = Process.Start(new ProcessStartInfo(dotProgram, "-Tsvg")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            process.StandardInput.Write(dot);
            process.StandardInput.Close();
            var svg = process.StandardOutput.ReadToEnd();
            var error = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(30_000), "dot finished");
            Assert.True(process.ExitCode == 0, error);
            Assert.Contains("<svg", svg, StringComparison.Ordinal);
            foreach (var node in graph.Nodes)
            {
                Assert.Contains($"<title>f:{node.Name.Replace("-", "&#45;", StringComparison.Ordinal)}</title>", svg, StringComparison.Ordinal);
            }
            Assert.Equal(graph.Edges.Length, Regex.Matches(svg, "class=\"edge\"").Count);
            return;
        }

        // Without graphviz: every line is a statement of the DOT subset the writer uses, and every edge joins declared nodes.
        var lines = dot.TrimEnd('\n').Split('\n');
        Assert.Equal("digraph \"clean-traffic\" {", lines[0]);
        Assert.Equal("}", lines[^1]);
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines[1..^1])
        {
            if (NodeStatement().Match(line) is { Success: true } n)
            {
                nodes.Add(n.Groups[1].Value);
                continue;
            }
            if (EdgeStatement().Match(line) is { Success: true } e)
            {
                Assert.Contains(e.Groups[1].Value, nodes);
                Assert.Contains(e.Groups[2].Value, nodes);
                continue;
            }
            Assert.Matches(Defaults(), line);
        }
        Assert.Equal(graph.Nodes.Length, nodes.Count);
    }

    private static string? FindDot() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "dot")).FirstOrDefault(File.Exists);

    private const string Quoted = "\"((?:[^\"\\\\]|\\\\.)*)\"";

    [GeneratedRegex("^  " + Quoted + " \\[label=" + Quoted + "(, [a-z]+=(?:[a-z]+|\"[^\"]*\"))*\\];$")]
    private static partial Regex NodeStatement();

    [GeneratedRegex("^  " + Quoted + " -> " + Quoted + "( \\[label=" + Quoted + "\\])?;$")]
    private static partial Regex EdgeStatement();

    [GeneratedRegex("^  (rankdir=LR|(node|edge) \\[[^\\]]+\\]);$")]
    private static partial Regex Defaults();
}
