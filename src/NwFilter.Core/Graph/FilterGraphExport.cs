using System.Collections.Immutable;
using System.Text;
using NwFilter.Core.Model;

namespace NwFilter.Core.Graph;

/// <summary>The text format of an exported filter graph.</summary>
public enum FilterGraphFormat
{
    /// <summary>Graphviz DOT (<c>dot -Tsvg</c> renders it).</summary>
    Dot,
    /// <summary>A Mermaid flowchart (GitHub renders it in a <c>```mermaid</c> block).</summary>
    Mermaid,
}

/// <summary>One filter of an exported graph.</summary>
/// <param name="Name">The filter's name.</param>
/// <param name="Chain">Its chain, or null when the filter is missing.</param>
/// <param name="Priority">Its chain priority.</param>
/// <param name="Rules">How many rules it holds itself.</param>
/// <param name="Variables">The variables its rules use, sorted.</param>
public sealed record FilterGraphNode(string Name, string? Chain, int Priority, int Rules, ImmutableArray<string> Variables)
{
    /// <summary>The filter's name.</summary>
    public string Name { get; internal init; } = Name;
    /// <summary>Its chain, or null when the filter is missing.</summary>
    public string? Chain { get; internal init; } = Chain;
    /// <summary>Its chain priority.</summary>
    public int Priority { get; internal init; } = Priority;
    /// <summary>How many rules it holds itself.</summary>
    public int Rules { get; internal init; } = Rules;
    /// <summary>The variables its rules use, sorted.</summary>
    public ImmutableArray<string> Variables { get; internal init; } = Variables;
    /// <summary>True when no filter of this name exists.</summary>
    public bool Missing => Chain is null;
}

/// <summary>A reference from one filter (or the binding) to another, with the parameters it passes.</summary>
/// <param name="From">The referring filter (or the binding's label).</param>
/// <param name="To">The referenced filter.</param>
/// <param name="Parameters">The parameters the reference passes, as NAME=VALUE.</param>
public sealed record FilterGraphEdge(string From, string To, ImmutableArray<string> Parameters)
{
    /// <summary>The referring filter (or the binding's label).</summary>
    public string From { get; internal init; } = From;
    /// <summary>The referenced filter.</summary>
    public string To { get; internal init; } = To;
    /// <summary>The parameters the reference passes, as NAME=VALUE.</summary>
    public ImmutableArray<string> Parameters { get; internal init; } = Parameters;
}

/// <summary>The filter DAG below one filter or binding: every filter once, every reference once.</summary>
/// <param name="Top">The filter the graph starts at.</param>
/// <param name="Binding">The binding's label (port and MAC) when the graph is a binding's, else null.</param>
/// <param name="BindingParameters">The binding's parameters as NAME=VALUE (empty for a filter).</param>
/// <param name="Nodes">The filters, in first-visit (depth-first, document) order.</param>
/// <param name="Edges">The references, in the same order.</param>
public sealed record FilterGraphModel(string Top, string? Binding, ImmutableArray<string> BindingParameters,
    ImmutableArray<FilterGraphNode> Nodes, ImmutableArray<FilterGraphEdge> Edges)
{
    /// <summary>The filter the graph starts at.</summary>
    public string Top { get; internal init; } = Top;
    /// <summary>The binding's label (port and MAC) when the graph is a binding's, else null.</summary>
    public string? Binding { get; internal init; } = Binding;
    /// <summary>The binding's parameters as NAME=VALUE (empty for a filter).</summary>
    public ImmutableArray<string> BindingParameters { get; internal init; } = BindingParameters;
    /// <summary>The filters, in first-visit (depth-first, document) order.</summary>
    public ImmutableArray<FilterGraphNode> Nodes { get; internal init; } = Nodes;
    /// <summary>The references, in the same order.</summary>
    public ImmutableArray<FilterGraphEdge> Edges { get; internal init; } = Edges;
}

/// <summary>
/// Builds the filter DAG of a filter or binding and writes it as Graphviz DOT or Mermaid: one node per filter with
/// its chain, priority, rule count and the variables its rules use; one edge per reference with the parameters it
/// passes; a missing filter drawn dashed. Pure.
/// </summary>
public static class FilterGraphExport
{
    /// <summary>The graph below <paramref name="top"/>; <paramref name="binding"/> labels a binding node above it.</summary>
    public static FilterGraphModel Build(IFilterSource source, FilterDefinition top, string? binding = null, ParameterSet? bindingParameters = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(top);
        var nodes = ImmutableArray.CreateBuilder<FilterGraphNode>();
        var edges = ImmutableArray.CreateBuilder<FilterGraphEdge>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var seenEdges = new HashSet<(string, string)>();
        var pending = new Stack<FilterDefinition?>();

        void Visit(string name, FilterDefinition? filter)
        {
            if (!seen.Add(name))
            {
                return;
            }
            if (filter is null)
            {
                nodes.Add(new FilterGraphNode(name, null, 0, 0, []));
                return;
            }
            var variables = filter.Rules
                .SelectMany(r => r.Attributes)
                .Where(a => a.Value.Kind == AttributeValueKind.Variable)
                .Select(a => a.Value.Variable!.Name)
                .Distinct(StringComparer.Ordinal)
                .Order(StringComparer.Ordinal)
                .ToImmutableArray();
            nodes.Add(new FilterGraphNode(name, filter.Chain, filter.Priority, filter.Rules.Count(), variables));
            foreach (var reference in filter.References)
            {
                if (seenEdges.Add((name, reference.Filter)))
                {
                    edges.Add(new FilterGraphEdge(name, reference.Filter, Pairs(reference.Parameters)));
                }
                // A loop cannot be defined (FilterGraph.FindLoop); the seen set keeps a hand-made one finite too.
                Visit(reference.Filter, source.Find(reference.Filter));
            }
        }

        Visit(top.Name, top);
        return new FilterGraphModel(top.Name, binding, bindingParameters is null ? [] : Pairs(bindingParameters), nodes.ToImmutable(), edges.ToImmutable());
    }

    private static ImmutableArray<string> Pairs(ParameterSet parameters) =>
        [.. parameters.Pairs.Select(p => $"{p.Key}={p.Value}")];

    /// <summary>The graph as text in <paramref name="format"/>.</summary>
    public static string Write(FilterGraphModel graph, FilterGraphFormat format) => format switch
    {
        FilterGraphFormat.Dot => ToDot(graph),
        FilterGraphFormat.Mermaid => ToMermaid(graph),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private const string BindingId = "binding";

    /// <summary>Graphviz DOT: a left-to-right digraph, boxes for filters, a dashed box for a missing one, an ellipse for the binding.</summary>
    public static string ToDot(FilterGraphModel graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var sb = new StringBuilder();
        sb.Append("digraph ").Append(DotString(graph.Binding ?? graph.Top)).Append(" {\n");
        sb.Append("  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
        if (graph.Binding is { } binding)
        {
            var label = graph.BindingParameters.IsEmpty ? binding : binding + "\n" + string.Join("\n", graph.BindingParameters);
            sb.Append("  ").Append(DotString(BindingId)).Append(" [shape=ellipse, label=").Append(DotString(label)).Append("];\n");
            sb.Append("  ").Append(DotString(BindingId)).Append(" -> ").Append(DotString("f:" + graph.Top)).Append(";\n");
        }
        foreach (var node in graph.Nodes)
        {
            sb.Append("  ").Append(DotString("f:" + node.Name)).Append(" [label=").Append(DotString(string.Join("\n", Lines(node))));
            if (node.Missing)
            {
                sb.Append(", style=dashed");
            }
            else if (node.Rules > 0)
            {
                sb.Append(", style=filled, fillcolor=\"#eef3fb\"");
            }
            sb.Append("];\n");
        }
        foreach (var edge in graph.Edges)
        {
            sb.Append("  ").Append(DotString("f:" + edge.From)).Append(" -> ").Append(DotString("f:" + edge.To));
            if (!edge.Parameters.IsEmpty)
            {
                sb.Append(" [label=").Append(DotString(string.Join("\n", edge.Parameters))).Append(']');
            }
            sb.Append(";\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>A Mermaid flowchart, left to right; node ids are n0, n1, ... in node order.</summary>
    public static string ToMermaid(FilterGraphModel graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < graph.Nodes.Length; i++)
        {
            ids[graph.Nodes[i].Name] = "n" + i;
        }
        var sb = new StringBuilder("flowchart LR\n");
        if (graph.Binding is { } binding)
        {
            var label = string.Join("<br/>", graph.BindingParameters.Prepend(binding).Select(MermaidText));
            sb.Append("  b([\"").Append(label).Append("\"]) --> ").Append(ids[graph.Top]).Append('\n');
        }
        foreach (var node in graph.Nodes)
        {
            sb.Append("  ").Append(ids[node.Name]).Append("[\"").Append(string.Join("<br/>", Lines(node).Select(MermaidText))).Append("\"]\n");
        }
        foreach (var edge in graph.Edges)
        {
            sb.Append("  ").Append(ids[edge.From]).Append(" -->");
            if (!edge.Parameters.IsEmpty)
            {
                sb.Append("|\"").Append(string.Join("<br/>", edge.Parameters.Select(MermaidText))).Append("\"|");
            }
            sb.Append(' ').Append(ids[edge.To]).Append('\n');
        }
        foreach (var node in graph.Nodes.Where(n => n.Missing))
        {
            sb.Append("  style ").Append(ids[node.Name]).Append(" stroke-dasharray: 5 5\n");
        }
        return sb.ToString();
    }

    private static IEnumerable<string> Lines(FilterGraphNode node)
    {
        yield return node.Name;
        if (node.Missing)
        {
            yield return "(missing)";
            yield break;
        }
        yield return $"chain {node.Chain}, priority {node.Priority}";
        yield return node.Rules == 1 ? "1 rule" : $"{node.Rules} rules";
        if (!node.Variables.IsEmpty)
        {
            yield return "uses " + string.Join(", ", node.Variables.Select(v => "$" + v));
        }
    }

    /// <summary>A DOT double-quoted string: backslash and quote escaped, a newline as <c>\n</c> (centred line break).</summary>
    internal static string DotString(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Text inside a Mermaid quoted label: quotes and markup characters as entity codes.</summary>
    internal static string MermaidText(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': sb.Append("#quot;"); break;
                case '<': sb.Append("#lt;"); break;
                case '>': sb.Append("#gt;"); break;
                case '#': sb.Append("#35;"); break;
                case '|': sb.Append("#124;"); break;
                case '\n' or '\r': sb.Append(' '); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }
}
