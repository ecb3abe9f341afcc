using System.Collections.Concurrent;
using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Runtime;

/// <summary>
/// Which backend the runtime gives a binding that names none, with the nftables probe simulated through its seam
/// (a kernel without nf_tables, a missing libnftables): no firewall is touched (the privilege probe says no, so each
/// item comes back refused as FirewallNeedsRoot, carrying the binding with the backend it was given).
/// </summary>
public sealed class BackendChoiceTests : IDisposable
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("52-54-00-00-00-01");
    private readonly TempDirectory _dir = new("nwfilter-backend-choice");

    public void Dispose() => _dir.Dispose();

    private NwFilterRuntime Runtime(NftablesAvailability nft, string? setting = null, List<string?>? probed = null) =>
        new(new NwFilterRuntimeOptions
        {
            Location = new StoreLocation(_dir.Combine("config"), _dir.Combine("state")),
            NamespaceProbe = _ => true,
            PrivilegeProbe = () => false,
            InterfaceProbe = (_, _) => Task.FromResult<IReadOnlySet<string>?>(new HashSet<string> { "vnet0", "vnet1" }),
            NftablesProbe = (ns, _) =>
            {
                probed?.Add(ns);
                return Task.FromResult(nft);
            },
            Environment = name => name == BackendSelection.Variable ? setting : null,
        });

    private static readonly NftablesAvailability Usable = new(true, "libnftables.so.1 loads and the kernel's nf_tables answers in network namespace lab1");
    private static readonly NftablesAvailability NoKernel = new(false, "the kernel's nf_tables does not answer in network namespace lab1 ('nft list tables': Protocol not supported)");
    private static readonly NftablesAvailability NoLibrary = new(false, "libnftables.so.1 cannot be loaded (install libnftables1)");

    [Fact]
    public async Task ABindingNamingNoBackendGetsNftablesWhereUsableAndTheHostIsToldWhichAndWhy()
    {
        var probed = new List<string?>();
        var host = new RecordingRuntimeHost();
        var response = await Runtime(Usable, probed: probed).HandleAsync(new ApplyBindingsRequest([Bindings.Create("vnet0", Mac, "allow-arp")], "lab1"), host);

        Assert.Equal(FirewallBackendKind.Nftables, Assert.Single(response.Items).Binding!.Backend);
        var verbose = Assert.Single(host.Events, e => e.Level == RuntimeEventLevel.Verbose && e.Id == RuntimeEventIds.BackendChosen);
        var info = Assert.Single(host.Events, e => e.Level == RuntimeEventLevel.Information && e.Id == RuntimeEventIds.BackendChosen);
        Assert.Equal(verbose.Message, info.Message);
        Assert.Equal("Backend of vnet0 in network namespace lab1: Nftables, the default (libnftables.so.1 loads and the kernel's nf_tables answers in network namespace lab1).", info.Message);
        Assert.Equal(["lab1"], probed);
        Assert.DoesNotContain(host.Events, e => e.Level == RuntimeEventLevel.Warning);
    }

    [Fact]
    public async Task ANamedBackendIsKeptAndEbIpTablesNeedsNoProbe()
    {
        var probed = new List<string?>();
        var host = new RecordingRuntimeHost();
        var response = await Runtime(Usable, probed: probed).HandleAsync(new ApplyBindingsRequest(
            [Bindings.Create("vnet0", Mac, "allow-arp", backend: FirewallBackendKind.EbIpTables)], "lab1"), host);

        Assert.Equal(FirewallBackendKind.EbIpTables, Assert.Single(response.Items).Binding!.Backend);
        Assert.Empty(probed);
        Assert.DoesNotContain(host.Events, e => e.Id == RuntimeEventIds.BackendChosen);
    }

    [Theory]
    [MemberData(nameof(Unusable))]
    public async Task WhereNftablesIsUnusableANewBindingFallsBackToEbIpTablesAndSaysSo(string why)
    {
        var nft = why == "kernel" ? NoKernel : NoLibrary;
        var host = new RecordingRuntimeHost();
        var response = await Runtime(nft).HandleAsync(new ApplyBindingsRequest([Bindings.Create("vnet0", Mac, "allow-arp")], "lab1"), host);

        Assert.Equal(FirewallBackendKind.EbIpTables, Assert.Single(response.Items).Binding!.Backend);
        var warning = Assert.Single(host.Events, e => e.Level == RuntimeEventLevel.Warning);
        Assert.Equal(RuntimeEventIds.BackendFellBack, warning.Id);
        Assert.Contains(nft.Reason, warning.Message, StringComparison.Ordinal);
        Assert.Contains("falls back", warning.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> Unusable => new() { "kernel", "library" };

    [Fact]
    public async Task WhereNftablesBindingsExistAndNftablesIsGoneTheDefaultDoesNotFallBackAndNamesThePort()
    {
        var runtime = Runtime(NoKernel);
        runtime.Manager("lab1").Store.Save(Bindings.Create("vnet1", Mac, "allow-arp", backend: FirewallBackendKind.Nftables));
        var host = new RecordingRuntimeHost();
        var response = await runtime.HandleAsync(new ApplyBindingsRequest([Bindings.Create("vnet0", Mac, "allow-arp")], "lab1"), host);

        var error = Assert.Single(response.Items).Error!.Primary;
        Assert.Equal(NftablesCodes.NftUnavailable, error.Code);
        Assert.StartsWith("Port vnet0: nftables is unusable", error.Message, StringComparison.Ordinal);
        Assert.Contains("the nftables bindings of vnet1 already exist", error.Message, StringComparison.Ordinal);
        Assert.Empty(host.Confirmations); // refused before anything was asked or planned
    }

    [Fact]
    public async Task AnExplicitNftablesBindingWhereNftablesIsUnusableIsRefusedNamingThePortAndWhy()
    {
        var host = new RecordingRuntimeHost();
        var response = await Runtime(NoLibrary).HandleAsync(new ApplyBindingsRequest(
            [Bindings.Create("vnet0", Mac, "allow-arp", backend: FirewallBackendKind.Nftables)], "lab1"), host);

        var error = Assert.Single(response.Items).Error!.Primary;
        Assert.Equal(NftablesCodes.NftUnavailable, error.Code);
        Assert.Equal("Port vnet0 in network namespace lab1: the Nftables backend is unusable (libnftables.so.1 cannot be loaded (install libnftables1)); " +
            "nothing was applied, the port's previous rules stay in force. Use -Backend EbIpTables.", error.Message);
        Assert.Empty(host.Confirmations);
    }

    [Fact]
    public async Task APortWithABindingKeepsItsBackendWhenNoneIsNamed()
    {
        var runtime = Runtime(Usable);
        runtime.Manager("lab1").Store.Save(Bindings.Create("vnet0", Mac, "allow-arp", backend: FirewallBackendKind.EbIpTables));
        var host = new RecordingRuntimeHost();
        var response = await runtime.HandleAsync(new ApplyBindingsRequest([Bindings.Create("vnet0", Mac, "allow-arp"), Bindings.Create("vnet1", Mac, "allow-arp")], "lab1"), host);

        Assert.Equal([FirewallBackendKind.EbIpTables, FirewallBackendKind.Nftables], response.Items.Select(i => i.Binding!.Backend));
        Assert.Contains(host.Events, e => e.Level == RuntimeEventLevel.Verbose && e.Message.Contains("vnet0 in network namespace lab1: EbIpTables, the backend its binding was applied with", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheEnvironmentSettingChoosesEbIpTablesWithoutAProbe()
    {
        var probed = new List<string?>();
        var host = new RecordingRuntimeHost();
        var response = await Runtime(Usable, "ebiptables", probed).HandleAsync(new ApplyBindingsRequest([Bindings.Create("vnet0", Mac, "allow-arp")], "lab1"), host);

        Assert.Equal(FirewallBackendKind.EbIpTables, Assert.Single(response.Items).Binding!.Backend);
        Assert.Empty(probed);
        Assert.Contains(host.Events, e => e.Level == RuntimeEventLevel.Information && e.Message.EndsWith("EbIpTables, set by NWFILTER_BACKEND=ebiptables.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheConfigurationFileChoosesTheBackend()
    {
        Directory.CreateDirectory(_dir.Combine("config"));
        File.WriteAllText(_dir.Combine("config", BackendSelection.ConfigFileName), "backend = ebiptables\n");
        var response = await Runtime(Usable).HandleAsync(new ApplyBindingsRequest([Bindings.Create("vnet0", Mac, "allow-arp")], "lab1"), new RecordingRuntimeHost());
        Assert.Equal(FirewallBackendKind.EbIpTables, Assert.Single(response.Items).Binding!.Backend);
    }

    [Fact]
    public async Task ALearningBindingGetsTheNftablesDefaultLikeAnyOther()
    {
        var host = new RecordingRuntimeHost();
        var response = await Runtime(Usable).HandleAsync(new ApplyBindingsRequest([Bindings.Create("vnet0", Mac, "clean-traffic")], "lab1"), host);

        // It reaches the firewall step (refused only for want of root here), on the nftables default.
        var item = Assert.Single(response.Items);
        Assert.Equal(RuntimeCodes.FirewallNeedsRoot, item.Error!.Primary.Code);
        Assert.Equal(FirewallBackendKind.Nftables, item.Binding!.Backend);
    }
}
