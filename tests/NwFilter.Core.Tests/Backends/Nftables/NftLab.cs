using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// A <see cref="NetnsLab"/> driven by the nftables applier: every nft runs inside the lab's host namespace (never in the
/// root namespace), and disposing the lab deletes the namespaces with their tables.
/// </summary>
internal sealed class NftLab : IDisposable
{
    private NftLab(NetnsLab lab)
    {
        Lab = lab;
        Applier = new NftablesApplier(ProcessRunner.Default, lab.HostNamespace);
    }

    public NetnsLab Lab { get; }

    public NftablesApplier Applier { get; }

    public IReadOnlyList<LabVm> Vms => Lab.Vms;

    /// <summary>Builds the lab (skips the test when it cannot run here).</summary>
    public static NftLab Create(int vms)
    {
        var lab = NetnsLab.Create(vms);
        try
        {
            return new NftLab(lab);
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Compiles a filter for a VM (its MAC; IP = its IPv4 address unless given) and applies it.</summary>
    public NftApplyReport Apply(LabVm vm, string filter, params string[] ips) => Apply(Ruleset(vm, filter, ips));

    public NftApplyReport Apply(params NftPortRuleset[] rulesets) =>
        Applier.ApplyAsync([.. rulesets.Select(NftPortChange.Set)]).GetAwaiter().GetResult();

    public static NftPortRuleset Ruleset(LabVm vm, string filter, params string[] ips) =>
        NftTestFilters.Compile(filter, vm.PortDevice, vm.Mac, ips.Length == 0 ? [vm.IPv4] : ips);

    public NftApplyReport Remove(params LabVm[] vms) => Applier.RemoveAsync(vms.Select(v => v.PortDevice)).GetAwaiter().GetResult();

    public NftState State() => Applier.ReadStateAsync().GetAwaiter().GetResult();

    /// <summary>The whole ruleset of the lab's host namespace, as nft lists it.</summary>
    public string Ruleset() => Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput;

    public void Dispose() => Lab.Dispose();
}
