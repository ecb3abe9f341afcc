using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// Another program's firewall (firewalld, Docker, libvirt's network driver) is never touched: with a foreign inet
/// table, a foreign bridge table and a foreign iptables rule in the namespace, the nftables backend's apply, update
/// (one that adds the inet nwfilter table), a second port, remove, restore and removing the last binding (which deletes
/// NwFilter's own tables) leave each of them byte-identical as nft and iptables-save print them.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class ForeignTablesTests
{
    [SkippableFact]
    public void ForeignTablesAndRulesStayByteIdenticalThroughEveryNftablesOperation()
    {
        using var lab = BindingLab.Create(2, FirewallBackendKind.Nftables);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Lab.RunInHostChecked("nft", "add table inet foreign");
        lab.Lab.RunInHostChecked("nft", "add chain inet foreign forwardchain { type filter hook forward priority 10 ; policy accept ; }");
        lab.Lab.RunInHostChecked("nft", "add rule inet foreign forwardchain ip saddr 203.0.113.7 drop comment \"not NwFilter's\"");
        lab.Lab.RunInHostChecked("nft", "add table bridge foreignbr");
        lab.Lab.RunInHostChecked("nft", "add chain bridge foreignbr pre { type filter hook prerouting priority -250 ; }");
        lab.Lab.RunInHostChecked("nft", "add rule bridge foreignbr pre ether saddr 02:00:00:00:00:99 drop");
        lab.Lab.RunInHostChecked("iptables", "-A", "FORWARD", "-s", "198.51.100.9", "-j", "DROP");
        var before = Foreign(lab);
        Assert.Contains("203.0.113.7", before, StringComparison.Ordinal);
        Assert.Contains("198.51.100.9", before, StringComparison.Ordinal);

        void Unchanged(string step)
        {
            var now = Foreign(lab);
            Assert.True(before == now, $"after {step} the foreign tables changed:\n--- before\n{before}\n--- after\n{now}");
        }

        lab.Apply(BindingLab.CleanTraffic(vm0));
        Assert.Contains("table bridge nwfilter", lab.Lab.RunInHostChecked("nft", "list", "tables").StandardOutput, StringComparison.Ordinal);
        Unchanged("apply");
        lab.Apply(BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4)));
        Assert.Contains("table inet nwfilter", lab.Lab.RunInHostChecked("nft", "list", "tables").StandardOutput, StringComparison.Ordinal);
        Unchanged("update");
        lab.Apply(BindingLab.CleanTraffic(vm1));
        Unchanged("a second port");
        Assert.True(lab.Remove(vm0.PortDevice).Items.Single().Succeeded);
        Unchanged("remove");
        lab.Lab.RunInHostChecked("nft", "delete table bridge nwfilter");
        var restored = lab.Manager.RestoreAsync().GetAwaiter().GetResult();
        Assert.All(restored.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        Unchanged("restore");
        Assert.True(lab.Remove(vm1.PortDevice).Items.Single().Succeeded);
        Assert.DoesNotContain("nwfilter", lab.Lab.RunInHostChecked("nft", "list", "tables").StandardOutput, StringComparison.Ordinal);
        Unchanged("removing the last binding");
    }

    /// <summary>The foreign tables as nft prints them, and the iptables filter table as iptables-save does (no counters).</summary>
    private static string Foreign(BindingLab lab) =>
        lab.Lab.RunInHostChecked("nft", "list", "table", "inet", "foreign").StandardOutput + "\n" +
        lab.Lab.RunInHostChecked("nft", "list", "table", "bridge", "foreignbr").StandardOutput + "\n" +
        lab.Save("iptables-save", "filter");
}
