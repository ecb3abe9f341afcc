using NwFilter.Core.Apply;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Drift;

/// <summary>
/// The drift check is exact on both backends: correct ports are InSync however they were bound (one at a time, in
/// another order than the check applies them, re-applied), and a removed or added rule makes exactly that port Drifted.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class DriftExactnessKernelTests
{
    [SkippableTheory]
    [InlineData(FirewallBackendKind.Nftables)]
    [InlineData(FirewallBackendKind.EbIpTables)]
    public void CorrectPortsBoundSeparatelyInAnyOrderAreInSyncAndOnlyAChangedPortDrifts(FirewallBackendKind backend)
    {
        using var lab = BindingLab.Create(4, backend);
        // One at a time, last port first: the ports get other ids (nft: the mark folded into mask constants) than a
        // batch of all four in store order would give them.
        foreach (var vm in lab.Vms.Reverse())
        {
            lab.Apply(BindingLab.Binding(vm, "test-eth0", ("IP", vm.IPv4)));
        }
        lab.Apply(BindingLab.Binding(lab.Vms[2], "test-eth0", ("IP", lab.Vms[2].IPv4))); // a second generation
        var manager = lab.Manager;
        Assert.All(Test(lab), d => Assert.True(d.Status == BindingDriftStatus.InSync, $"{d.PortDevice}: {d.Status}, missing [{string.Join(" | ", d.MissingRules)}], unexpected [{string.Join(" | ", d.UnexpectedRules)}]"));
        // A fresh manager (no remembered expectation) agrees.
        lab.NewManager();
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));

        // vnet1 loses a rule, vnet2 gets one more.
        if (backend == FirewallBackendKind.Nftables)
        {
            var (chain1, handle1) = FirstRule(lab, "vnet1", "/I");
            lab.Lab.RunInHostChecked("nft", "delete", "rule", "bridge", "nwfilter", chain1, "handle", handle1);
            var (chain2, _) = FirstRule(lab, "vnet2", "/I");
            lab.Lab.RunInHostChecked("nft", "insert", "rule", "bridge", "nwfilter", chain2, "accept");
        }
        else
        {
            lab.Lab.RunInHostChecked("ebtables", "-t", "nat", "-D", "I-vnet1-mac", "-j", "DROP");
            lab.Lab.RunInHostChecked("ebtables", "-t", "nat", "-I", "I-vnet2-mac", "1", "-j", "ACCEPT");
        }
        foreach (var m in new[] { manager, lab.Manager })
        {
            var drift = m.TestAsync().GetAwaiter().GetResult().ToDictionary(d => d.PortDevice);
            Assert.Equal(BindingDriftStatus.InSync, drift["vnet0"].Status);
            Assert.Equal(BindingDriftStatus.InSync, drift["vnet3"].Status);
            Assert.Equal(BindingDriftStatus.Drifted, drift["vnet1"].Status);
            Assert.Single(drift["vnet1"].MissingRules);
            Assert.Empty(drift["vnet1"].UnexpectedRules);
            Assert.Equal(BindingDriftStatus.Drifted, drift["vnet2"].Status);
            Assert.Empty(drift["vnet2"].MissingRules);
            Assert.Single(drift["vnet2"].UnexpectedRules);
        }

        var restored = lab.Manager.RestoreAsync().GetAwaiter().GetResult();
        Assert.All(restored.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        Assert.All(Test(lab), d => Assert.Equal(BindingDriftStatus.InSync, d.Status));
        lab.Remove([.. lab.Vms.Select(v => v.PortDevice)]);
    }

    /// <summary>The name and the first rule's handle of the port's chain ending in <paramref name="roleSuffix"/>.</summary>
    private static (string Chain, string Handle) FirstRule(BindingLab lab, string port, string roleSuffix)
    {
        var listing = lab.Lab.RunInHostChecked("nft", "-a", "list", "table", "bridge", "nwfilter").StandardOutput.Split('\n').Select(l => l.Trim()).ToList();
        var at = listing.FindIndex(l => l.StartsWith($"chain {port}/", StringComparison.Ordinal) && l.Split(' ')[1].EndsWith(roleSuffix, StringComparison.Ordinal));
        Assert.True(at >= 0, $"no chain {port}/.../{roleSuffix}");
        var chain = listing[at].Split(' ')[1];
        var rule = listing.Skip(at + 1).First(l => l.Contains("# handle ", StringComparison.Ordinal));
        return (chain, rule[(rule.LastIndexOf("# handle ", StringComparison.Ordinal) + "# handle ".Length)..]);
    }

    private static IReadOnlyList<BindingDrift> Test(BindingLab lab) => lab.Manager.TestAsync().GetAwaiter().GetResult();
}
