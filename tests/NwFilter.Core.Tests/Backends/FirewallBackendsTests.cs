using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends;

/// <summary>The backend strategies (<see cref="IFirewallBackend"/>), their factory, and the layering they give the folders.</summary>
public sealed partial class FirewallBackendsTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("52-54-00-AA-BB-EE");

    [Fact]
    public void TheFactoryGivesEveryKindOneBackendOfThatKindAndListsEachOnce()
    {
        foreach (var kind in Enum.GetValues<FirewallBackendKind>())
        {
            Assert.Equal(kind, FirewallBackends.Get(kind).Kind);
        }
        Assert.Equal(Enum.GetValues<FirewallBackendKind>().Order(), FirewallBackends.All.Select(b => b.Kind).Order());
        Assert.Equal(new FilterBinding("vnet0", Mac, "f").Backend, FirewallBackends.Compatibility.Kind); // a binding file naming none
        Assert.Equal(FirewallBackendKind.Nftables, FirewallBackends.Default.Kind); // preferred where usable (BackendSelection)
        Assert.Throws<ArgumentOutOfRangeException>(() => FirewallBackends.Get((FirewallBackendKind)99));
    }

    [Fact]
    public void EbIpTablesLearningRulesAreTheBuildThenSwapShapeOfLibvirtsHelpers()
    {
        IFirewallBackend backend = EbIpTablesBackend.Instance;
        var binding = new FilterBinding("vnet0", Mac, "clean-traffic");
        backend.EnsureCanLearn(binding);
        IPAddress[] servers = [IPAddress.Parse("10.0.0.1")];
        foreach (var mode in new[] { IpLearningMode.Any, IpLearningMode.Dhcp })
        {
            var plan = Assert.IsType<XtablesPortPlan>(backend.LearningRules(binding, mode, servers)).Plan;
            Assert.Equal(LearningRules.AsNewRules("vnet0", Mac, mode, servers).ToString(), plan.ToString());
        }
        Assert.Equal(LearningRules.DropAllRules("vnet0").ToString(), backend.DropAllRules("vnet0").ToString());
    }

    [Fact]
    public void NftablesGivesTheLearningRulesOfEachModeThroughTheInterface()
    {
        IFirewallBackend backend = NftablesBackend.Instance;
        var binding = new FilterBinding("vnet0", Mac, "clean-traffic") { Backend = FirewallBackendKind.Nftables };
        backend.EnsureCanLearn(binding);

        // any (applyBasicRules): only the VM's own MAC, IPv4 and ARP leave it; nothing is filtered towards it.
        var basic = Script(Assert.IsType<NftPortPlan>(backend.LearningRules(binding, IpLearningMode.Any, [])).Ruleset);
        Assert.Contains("ether saddr != 52:54:00:aa:bb:ee drop", basic, StringComparison.Ordinal);
        Assert.Contains("ether type ip accept", basic, StringComparison.Ordinal);
        Assert.Contains("ether type arp accept", basic, StringComparison.Ordinal);
        Assert.DoesNotContain("vnet0/O", basic, StringComparison.Ordinal);

        // dhcp (applyDHCPOnlyRules): requests from the VM, replies of the named server to its MAC or broadcast.
        var dhcp = Script(Assert.IsType<NftPortPlan>(backend.LearningRules(binding, IpLearningMode.Dhcp, [IPAddress.Parse("10.0.0.1")])).Ruleset);
        Assert.Contains("ether saddr 52:54:00:aa:bb:ee ether type ip ip protocol udp th sport 68 th dport 67 accept", dhcp, StringComparison.Ordinal);
        Assert.Contains("ether daddr 52:54:00:aa:bb:ee ether type ip ip saddr 10.0.0.1 ip protocol udp th sport 67 th dport 68 accept", dhcp, StringComparison.Ordinal);
        Assert.Contains("ether daddr ff:ff:ff:ff:ff:ff ether type ip ip saddr 10.0.0.1 ip protocol udp th sport 67 th dport 68 accept", dhcp, StringComparison.Ordinal);
        Assert.DoesNotContain("table inet", dhcp, StringComparison.Ordinal); // learning rules are Ethernet rules only, as libvirt's

        var any = Script(Assert.IsType<NftPortPlan>(backend.LearningRules(binding, IpLearningMode.Dhcp, [])).Ruleset);
        Assert.DoesNotContain("ip saddr", any, StringComparison.Ordinal); // no DHCPSERVER: every server's reply

        var dropAll = backend.DropAllRules("vnet0");
        Assert.Equal("nftables", dropAll.Backend);
        Assert.Throws<NwFilterException>(() => backend.LearningRules(binding, IpLearningMode.Dhcp, [IPAddress.IPv6Loopback]));
    }

    [Fact]
    public void EachBackendCompilesABindingToItsOwnPlan()
    {
        var filters = new InMemoryFilterSource(BuiltInFilters.All);
        var parameters = ParameterSet.Empty.With("IP", "10.0.0.5");
        var eb = RulesetBuilder.Build(filters, "clean-traffic", "vnet0", Mac, parameters);
        var xtables = Assert.IsType<XtablesPortPlan>(((IFirewallBackend)EbIpTablesBackend.Instance).Compile("vnet0", eb));
        Assert.Same(eb.Plan, xtables.Plan);
        var nftRuleset = RulesetBuilder.Build(filters, "clean-traffic", "vnet0", Mac, parameters, FirewallBackendKind.Nftables);
        var nft = Assert.IsType<NftPortPlan>(((IFirewallBackend)NftablesBackend.Instance).Compile("vnet0", nftRuleset));
        Assert.Equal("vnet0", nft.PortDevice);
        Assert.Equal(Script(NftablesCompiler.Compile("vnet0", nftRuleset.Instances)), Script(nft.Ruleset));
        Assert.Contains("ether saddr 52:54:00:aa:bb:ee return", Script(nft.Ruleset), StringComparison.Ordinal);
    }

    [Fact]
    public void TheBindingManagerNamesNoBackend()
    {
        var files = Directory.GetFiles(Path.Combine(Repository.Root, "src", "NwFilter.Core", "Apply"), "BindingManager*.cs");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            Assert.DoesNotMatch(BackendLiteral(), text);
            Assert.DoesNotMatch(BackendType(), text);
        }
    }

    [Fact]
    public void OnlyTheKernelFoldersRunProcessesOrLoadLibraries()
    {
        var backends = Path.Combine(Repository.Root, "src", "NwFilter.Core", "Backends");
        var pure = Directory.GetFiles(backends, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Contains("Kernel")).ToList();
        Assert.Contains(pure, f => f.EndsWith("NftablesCompiler.cs", StringComparison.Ordinal));
        foreach (var file in pure)
        {
            Assert.DoesNotMatch(HostCall(), File.ReadAllText(file));
        }
        Assert.Contains(Directory.GetFiles(Path.Combine(backends, "Nftables", "Kernel")), f => HostCall().IsMatch(File.ReadAllText(f)));
        Assert.Contains(Directory.GetFiles(Path.Combine(backends, "EbIpTables", "Kernel")), f => HostCall().IsMatch(File.ReadAllText(f)));
    }

    private static string Script(NftPortRuleset ruleset) => NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(ruleset)]).Text;

    [GeneratedRegex(@"FirewallBackendKind\.[A-Z]")]
    private static partial Regex BackendLiteral();

    [GeneratedRegex(@"(?<![.\w])(XtablesExecutor|NftablesApplier|EbIpTablesBackend|NftablesBackend|KernelState|NftState|LearningRules)\b")]
    private static partial Regex BackendType();

    [GeneratedRegex(@"\.RunAsync\(|LibraryImport|DllImport|Process\.Start")]
    private static partial Regex HostCall();
}
