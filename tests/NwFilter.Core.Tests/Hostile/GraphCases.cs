using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Hostile;

/// <summary>Hostile filter trees: self-loops and long cycles, 10,000-long chains, diamonds, huge lists and products.</summary>
internal static class GraphCases
{
    private static readonly FilterRule Accept1 = new(Accept, In, None);

    public static IEnumerable<HostileCase> All()
    {
        // Loops defined through the store: a self-loop, and cycles closed over the seeded chain chain-0 -> ... -> chain-49.
        yield return new("loop-self", FilterGraph.FilterLoopCode, s => () => s.DefineXml("<filter name='self'><filterref filter='self'/></filter>"));
        yield return new("loop-self-after-rules", FilterGraph.FilterLoopCode, s => () =>
            s.DefineXml("<filter name='self2'><rule action='accept' direction='in'/><filterref filter='base'/><filterref filter='self2'/></filter>"));
        foreach (var k in new[] { 0, 1, 2, 5, 10, 25, 48, 49 })
        {
            // Redefining chain-k to refer to chain-0 closes a loop of k + 1 filters.
            yield return new($"loop-chain-{k + 1}-long", FilterGraph.FilterLoopCode, s => () =>
                s.DefineXml($"<filter name='chain-{k}'><filterref filter='chain-0'/></filter>"))
            {
                Check = e => Assert.Equal(
                    string.Join(" -> ", new[] { k }.Concat(Enumerable.Range(0, k)).Append(k).Select(i => $"chain-{i}")),
                    ErrorIds.Primary(e)!.Value),
            };
        }
        yield return new("loop-chain-49-to-20", FilterGraph.FilterLoopCode, s => () =>
            s.DefineXml("<filter name='chain-49'><filterref filter='chain-20'/></filter>"));

        // Loops met at instantiation (files made by hand, never defined through the store): reported, not followed.
        foreach (var n in new[] { 1, 2, 10, 60 })
        {
            foreach (var backend in Enum.GetValues<FirewallBackendKind>())
            {
                yield return new($"loop-compile-{n}-{backend}", FilterGraph.FilterLoopCode, s =>
                {
                    var source = Chain(n, closed: true);
                    return () => s.Compile(source.Find("c0")!, ParameterSet.Empty, backend, source: source);
                });
            }
        }
        yield return new("loop-define-check-10000", FilterGraph.FilterLoopCode, _ =>
        {
            var source = Chain(10_000, closed: false);
            var candidate = new FilterDefinition("c9999") { Entries = [new FilterReference("c0")] };
            return () =>
            {
                if (FilterGraph.FindLoop(candidate, source.Find) is { } loop)
                {
                    throw new NwFilterException(FilterGraph.LoopError(candidate.Name, loop));
                }
            };
        });

        // Chains too deep, and a tree with too many paths: refused by a limit, early.
        foreach (var n in new[] { Limits.MaxReferenceDepth + 1, 1_000, 10_000 })
        {
            foreach (var backend in Enum.GetValues<FirewallBackendKind>())
            {
                yield return new($"chain-{n}-{backend}", FilterGraph.ReferenceTooDeepCode, s =>
                {
                    var source = Chain(n, closed: false);
                    return () => s.Compile(source.Find("c0")!, ParameterSet.Empty, backend, source: source);
                });
            }
        }
        foreach (var (levels, width) in new[] { (20, 2), (8, 4), (40, 2) })
        {
            foreach (var backend in Enum.GetValues<FirewallBackendKind>())
            {
                yield return new($"diamond-{levels}x{width}-{backend}", FilterGraph.TooManyReferencesCode, s =>
                {
                    var source = Diamond(levels, width);
                    return () => s.Compile(source.Find("d0")!, ParameterSet.Empty, backend, source: source);
                });
            }
        }
        yield return new("wide-10001-references", FilterGraph.TooManyReferencesCode, s =>
        {
            var leaf = new FilterDefinition("leaf") { Entries = [Accept1] };
            var top = new FilterDefinition("wide") { Entries = [.. Enumerable.Repeat<FilterEntry>(new FilterReference("leaf"), Limits.MaxReferencesFollowed + 1)] };
            var source = new InMemoryFilterSource(leaf, top);
            return () => s.Compile(top, ParameterSet.Empty, FirewallBackendKind.EbIpTables, source: source);
        });
        yield return new("rules-10001", FilterGraph.TooManyRuleInstancesCode, s =>
        {
            var top = new FilterDefinition("many") { Entries = [.. Enumerable.Repeat<FilterEntry>(Accept1, Limits.MaxRuleInstances + 1)] };
            return () => s.Compile(top, ParameterSet.Empty, FirewallBackendKind.EbIpTables, source: new InMemoryFilterSource(top));
        });
        yield return new("rules-100-times-200", FilterGraph.TooManyRuleInstancesCode, s =>
        {
            var leaf = new FilterDefinition("hundred") { Entries = [.. Enumerable.Repeat<FilterEntry>(Accept1, 100)] };
            var top = new FilterDefinition("fan") { Entries = [.. Enumerable.Repeat<FilterEntry>(new FilterReference("hundred"), 200)] };
            var source = new InMemoryFilterSource(leaf, top);
            return () => s.Compile(top, ParameterSet.Empty, FirewallBackendKind.Nftables, source: source);
        });

        // Lists: 100,000 values (from a binding document or from code), just over the limit, and products of lists.
        foreach (var backend in Enum.GetValues<FirewallBackendKind>())
        {
            foreach (var count in new[] { 100_000, Limits.MaxListLength + 1 })
            {
                yield return new($"list-{count}-{backend}", VariableCombinations.ListTooLongCode, s =>
                {
                    var parameters = Many("IP", count, i => $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", ("PORT", "22"), ("C", "c"), ("DST", "10.0.0.2"));
                    return () => s.Compile(s.Store.Get("base")!.Definition, parameters, backend);
                }, HostileCase.Large);
            }
            yield return new($"product-1000x1000-{backend}", FilterGraph.TooManyRuleInstancesCode, s =>
            {
                var top = Filter("product", Rule(Accept, Out, Tcp, ("srcipaddr", "$A[@1]"), ("dstipaddr", "$B[@2]")));
                var parameters = Many("A", 1000, i => $"10.1.{i >> 8}.{i & 255}").Over(Many("B", 1000, i => $"10.2.{i >> 8}.{i & 255}"));
                return () => s.Compile(top, parameters, backend, source: new InMemoryFilterSource(top));
            }, HostileCase.Large);
            yield return new($"product-30x30x30-{backend}", FilterGraph.TooManyRuleInstancesCode, s =>
            {
                var top = Filter("cube", Rule(Accept, Out, Tcp, ("srcipaddr", "$A[@1]"), ("dstipaddr", "$B[@2]"), ("dstportstart", "$P[@3]")));
                var parameters = Many("A", 30, i => $"10.1.0.{i}").Over(Many("B", 30, i => $"10.2.0.{i}")).Over(Many("P", 30, i => $"{1000 + i}"));
                return () => s.Compile(top, parameters, backend, source: new InMemoryFilterSource(top));
            });
            yield return new($"product-across-rules-{backend}", FilterGraph.TooManyRuleInstancesCode, s =>
            {
                // Eleven rules of 1,000 instances each: every rule is within the limit, the binding is not.
                var top = new FilterDefinition("eleven") { Entries = [.. Enumerable.Repeat<FilterEntry>(Rule(Accept, Out, Ip, ("srcipaddr", "$A")), 11)] };
                var parameters = Many("A", 1000, i => $"10.3.{i >> 8}.{i & 255}");
                return () => s.Compile(top, parameters, backend, source: new InMemoryFilterSource(top));
            });
        }
        yield return new("list-100000-binding-xml", VariableCombinations.ListTooLongCode, s =>
        {
            var parameters = string.Concat(Enumerable.Range(0, 100_000).Select(i => $"<parameter name='IP' value='10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}'/>"));
            var xml = HostileStore.BindingXml(parameters: parameters + "<parameter name='PORT' value='22'/><parameter name='C' value='c'/><parameter name='DST' value='10.0.0.2'/>");
            return () => s.CompileBindingXml(xml);
        }, HostileCase.Large);
    }

    /// <summary>c0 -> c1 -> ... -> c(n-1), each with one rule; the last refers back to c0 when closed.</summary>
    internal static InMemoryFilterSource Chain(int n, bool closed) =>
        new(Enumerable.Range(0, n).Select(i => new FilterDefinition($"c{i}")
        {
            Entries = i + 1 < n ? [Accept1, new FilterReference($"c{i + 1}")] : closed ? [Accept1, new FilterReference("c0")] : [Accept1],
        }));

    /// <summary>Levels of filters each referring <paramref name="width"/> times to the next: width^levels paths.</summary>
    private static InMemoryFilterSource Diamond(int levels, int width) =>
        new(Enumerable.Range(0, levels + 1).Select(i => new FilterDefinition($"d{i}")
        {
            Entries = i < levels ? [.. Enumerable.Repeat<FilterEntry>(new FilterReference($"d{i + 1}"), width)] : [Accept1],
        }));

    private static ParameterSet Many(string name, int count, Func<int, string> value, params (string Name, string Value)[] more) =>
        ParameterSet.FromPairs(Enumerable.Range(0, count).Select(i => KeyValuePair.Create(name, value(i)))
            .Concat(more.Select(m => KeyValuePair.Create(m.Name, m.Value))));
}
