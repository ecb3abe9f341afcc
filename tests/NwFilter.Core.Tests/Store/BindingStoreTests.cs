using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Store;

public sealed class BindingStoreTests
{
    private static FilterBinding Binding(string port, string filter = "clean-traffic") =>
        new(port, PhysicalAddress.Parse("52-54-00-AA-BB-CC"), filter)
        {
            OwnerName = "vm1",
            OwnerUuid = Guid.Parse("d7a2a3e6-8d3a-4c2f-9a1f-0d6c0b2f1e11"),
            Parameters = Build.Params(("IP", "10.0.0.5"), ("IP", "10.0.0.6")),
        };

    [Fact]
    public void KeepsLibvirtsBindingXmlPerPortDevice()
    {
        using var dir = new TempDirectory();
        var store = BindingStore.Open(new StoreLocation(dir.Combine("config"), dir.Path), null);
        store.Save(Binding("vnet0"));
        Assert.Equal(dir.Combine("bindings", "vnet0.xml"), store.PathOf("vnet0"));
        Assert.Equal("""
            <filterbinding>
              <owner>
                <name>vm1</name>
                <uuid>d7a2a3e6-8d3a-4c2f-9a1f-0d6c0b2f1e11</uuid>
              </owner>
              <portdev name='vnet0'/>
              <mac address='52:54:00:aa:bb:cc'/>
              <filterref filter='clean-traffic'>
                <parameter name='IP' value='10.0.0.5'/>
                <parameter name='IP' value='10.0.0.6'/>
              </filterref>
            </filterbinding>

            """.ReplaceLineEndings("\n"), File.ReadAllText(store.PathOf("vnet0")));
        Assert.Equal(Binding("vnet0"), store.Get("vnet0"));
        Assert.Null(store.Get("vnet1"));
        Assert.True(store.Delete("vnet0"));
        Assert.False(store.Delete("vnet0"));
    }

    [Fact]
    public void EachNamespaceHasItsOwnBindingsAndUsageSeesThemAll()
    {
        using var dir = new TempDirectory();
        var location = new StoreLocation(dir.Combine("config"), dir.Path);
        BindingStore.Open(location, null).Save(Binding("vnet0"));
        BindingStore.Open(location, "lab1").Save(Binding("vnet0", "test-eth0"));
        BindingStore.Open(location, "lab1").Save(Binding("vnet1"));
        Assert.Equal(dir.Combine("netns", "lab1", "bindings"), BindingStore.Open(location, "lab1").Directory);
        Assert.Equal(["vnet0", "vnet1"], BindingStore.Open(location, "lab1").List().Bindings.Select(b => b.PortDevice));

        var usage = new StateDirectoryBindingUsage(() => location);
        Assert.Equal(["vnet0", "vnet1 (network namespace lab1)"], usage.FindBindingsUsing("clean-traffic"));
        Assert.Equal(["vnet0 (network namespace lab1)"], usage.FindBindingsUsing("test-eth0"));
        Assert.Empty(usage.FindBindingsUsing("allow-arp"));
    }

    [Fact]
    public void AnUnreadableFileIsReportedNotReturned()
    {
        using var dir = new TempDirectory();
        var store = new BindingStore(dir.Path);
        store.Save(Binding("vnet0"));
        File.WriteAllText(Path.Combine(dir.Path, "vnet1.xml"), "<filterbinding>");
        File.WriteAllText(Path.Combine(dir.Path, "vnet2.xml"), File.ReadAllText(store.PathOf("vnet0")));
        var (bindings, problems) = store.List();
        Assert.Equal(["vnet0"], bindings.Select(b => b.PortDevice));
        Assert.Equal(2, problems.Length);
        Assert.All(problems, p => Assert.Equal(ApplyCodes.UnreadableBindingFile, p.Code));
    }

    [Fact]
    public void BadNamesAreRefused()
    {
        using var dir = new TempDirectory();
        Assert.Throws<NwFilterException>(() => new BindingStore(dir.Path).Get("../etc"));
        Assert.Equal(ApplyCodes.InvalidNetworkNamespace,
            Assert.Throws<NwFilterException>(() => BindingStore.Open(new StoreLocation(dir.Path, dir.Path), "a/b")).Primary.Code);
    }
}
