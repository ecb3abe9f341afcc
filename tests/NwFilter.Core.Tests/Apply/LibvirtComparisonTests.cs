using System.Net.NetworkInformation;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// What NwFilter installs for libvirt 9.0's captured bindings (corpus live-9.0, and tests/data/libvirt-live for the seed's
/// test-eth0) against what libvirt left, compared as
/// the save tools print them. The one difference, by design (docs/design/libvirt-differences.md): when the last
/// binding goes, NwFilter also removes the global libvirt-in/-out/-in-post/-host-in chains, which libvirt keeps.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class LibvirtComparisonTests
{
    [SkippableFact]
    public void CleanTrafficAndACustomFilterInstallWhatLibvirtInstalled()
    {
        Corpus.Require();
        using var lab = BindingLab.Create(1);
        var custom = NwFilterXmlReader.ReadFilter(File.ReadAllText(LibvirtCapture.Path("02-lvprobe-custom.filter.xml"))).Value;
        lab.Filters = new NwFilter.Core.Graph.InMemoryFilterSource([.. NwFilter.Core.BuiltIn.BuiltInFilters.All, custom]);
        lab.NewManager();

        lab.Apply(ReadBinding("01-clean-traffic-vnet0.binding.xml"));
        Assert.Equal(LibvirtCapture.Save("01-clean-traffic-vnet0.ebtables-save.txt"), lab.Save("ebtables-save", "nat"));

        lab.Apply(ReadBinding("02-custom-vnet1.binding.xml"));
        Assert.Equal(LibvirtCapture.Save("02-custom-plus-clean-traffic.ebtables-save.txt"), lab.Save("ebtables-save", "nat"));
        Assert.Equal(Counterless(LibvirtCapture.Save("02-custom-plus-clean-traffic.iptables-save.txt")), lab.Save("iptables-save", "filter"));

        lab.Remove("vnet0", "vnet1");
        Assert.Equal(LibvirtCapture.Save("03-after-delete.ebtables-save.txt"), lab.Save("ebtables-save", "nat"));
        var libvirtAfter = Counterless(LibvirtCapture.Save("03-after-delete.iptables-save.txt"));
        Assert.Contains(":libvirt-in -", libvirtAfter, StringComparison.Ordinal);
        Assert.Equal("*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\nCOMMIT\n", lab.Save("iptables-save", "filter"));
    }

    [SkippableFact]
    public void TestEth0InstallsWhatLibvirtInstalled()
    {
        using var lab = BindingLab.Create(1);
        var data = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "data", "libvirt-live");
        string Capture(string file) => Counterless(LibvirtCapture.WithoutComments(File.ReadAllText(Path.Combine(data, file))));

        lab.Apply(NwFilterXmlReader.ReadBinding(File.ReadAllText(Path.Combine(data, "test-eth0-vnet0.binding.xml"))).Value);
        Assert.Equal(Capture("test-eth0-vnet0.ebtables-save.txt"), lab.Save("ebtables-save", "nat"));
        Assert.Equal(Capture("test-eth0-vnet0.iptables-save.txt"), lab.Save("iptables-save", "filter"));

        lab.Remove("vnet0");
        Assert.Equal(Capture("test-eth0-after-delete.ebtables-save.txt"), lab.Save("ebtables-save", "nat"));
        Assert.Contains(":libvirt-in -", Capture("test-eth0-after-delete.iptables-save.txt"), StringComparison.Ordinal); // libvirt keeps them
        Assert.Equal("*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\nCOMMIT\n", lab.Save("iptables-save", "filter"));
    }

    private static FilterBinding ReadBinding(string file) =>
        NwFilterXmlReader.ReadBinding(File.ReadAllText(LibvirtCapture.Path(file))).Value;

    private static string Counterless(string save) => save.Replace(" [0:0]", string.Empty, StringComparison.Ordinal);
}
