using System.Net.NetworkInformation;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>The filters the nftables tests compile: our built-ins (clean-traffic, ...) and the seed's test-eth0.</summary>
internal static class NftTestFilters
{
    public static FilterDefinition TestEth0 { get; } =
        NwFilterXmlReader.ReadFilter(File.ReadAllText(Repository.TestData("compiler", "test-eth0.xml"))).Value!;

    public static IFilterSource Source { get; } = new InMemoryFilterSource([.. BuiltInFilters.All, TestEth0]);

    /// <summary>Resolves a filter for a port with a MAC and IP(s), and compiles it for nftables.</summary>
    public static NftPortRuleset Compile(string filter, string port, string mac, params string[] ips) =>
        Compile(Source.Find(filter) ?? throw new ArgumentException($"no filter {filter}", nameof(filter)), port, mac, ips);

    /// <summary>Resolves a filter given as XML (references from the built-ins) and compiles it for nftables.</summary>
    public static NftPortRuleset CompileXml(string xml, string port, string mac, params string[] ips) =>
        Compile(NwFilterXmlReader.ReadFilter(xml).Value!, port, mac, ips);

    private static NftPortRuleset Compile(FilterDefinition filter, string port, string mac, string[] ips)
    {
        var parameters = ips.Length == 0 ? ParameterSet.Empty : ParameterSet.Empty.With("IP", ips);
        var resolution = FilterResolver.Resolve(Source, filter, parameters, PhysicalAddress.Parse(mac.Replace(':', '-')));
        return NftablesCompiler.Compile(port, resolution);
    }
}
