using System.Net.NetworkInformation;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// A <see cref="NetnsLab"/> with a <see cref="BindingManager"/> aimed at its host namespace: built-in filters plus the
/// seed's test-eth0, bindings kept in a temporary state directory. Disposing deletes the lab and the directory.
/// </summary>
public sealed class BindingLab : IDisposable
{
    private readonly TempDirectory _state = new("nwfilter-bindlab");

    private BindingLab(NetnsLab lab, FirewallBackendKind? backend)
    {
        Lab = lab;
        Backend = backend;
        Filters = new InMemoryFilterSource([.. BuiltInFilters.All, TestEth0]);
        Store = new BindingStore(_state.Combine("bindings"), lab.HostNamespace);
        Manager = NewManager();
    }

    public NetnsLab Lab { get; }

    /// <summary>The backend every binding applied through <see cref="Apply(FilterBinding[])"/> uses (null: each binding's own).</summary>
    public FirewallBackendKind? Backend { get; }

    public IFilterSource Filters { get; set; }

    public BindingStore Store { get; }

    public BindingManager Manager { get; private set; }

    /// <summary>The learners the next <see cref="NewManager"/> gets (null: learning off).</summary>
    public NwFilter.Core.Learning.IpLearnerRegistry? Learners { get; set; }

    /// <summary>A lease store in the lab's state directory.</summary>
    public NwFilter.Core.Learning.LeaseStore Leases => new(_state.Combine("leases"));

    public IReadOnlyList<LabVm> Vms => Lab.Vms;

    /// <summary>The seed's custom filter (tests/data/compiler/test-eth0.xml).</summary>
    public static FilterDefinition TestEth0 { get; } =
        NwFilterXmlReader.ReadFilter(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "data", "compiler", "test-eth0.xml"))).Value;

    /// <summary>A lab with <paramref name="vms"/> VMs; with <paramref name="backend"/>, every binding applied goes through that backend.</summary>
    public static BindingLab Create(int vms = 2, FirewallBackendKind? backend = null) => new(NetnsLab.Create(vms), backend);

    /// <summary>A manager with the given runner decorator around the lab's host runner (failure injection).</summary>
    public BindingManager NewManager(Func<IProcessRunner, IProcessRunner>? decorate = null) =>
        Manager = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = Lab.HostNamespace,
            HostRunner = decorate is null ? Lab.HostRunner : decorate(Lab.HostRunner),
            Filters = Filters,
            Store = Store,
            Learners = Learners,
        });

    /// <summary>A binding of a lab VM's port with its own MAC and the given parameters.</summary>
    public static FilterBinding Binding(LabVm vm, string filter, params (string Name, string Value)[] parameters) =>
        new(vm.PortDevice, PhysicalAddress.Parse(vm.Mac.Replace(':', '-').ToUpperInvariant()), filter)
        {
            OwnerName = "vm" + vm.Index,
            OwnerUuid = NameBasedUuid.Create(NameBasedUuid.BuiltInFilterNamespace, vm.Namespace),
            Parameters = Build.Params(parameters),
        };

    /// <summary>clean-traffic with the VM's own IPv4 address.</summary>
    public static FilterBinding CleanTraffic(LabVm vm) => Binding(vm, "clean-traffic", ("IP", vm.IPv4));

    public BindingBatchResult Apply(params FilterBinding[] bindings) => Apply((IReadOnlyList<FilterBinding>)bindings);

    public BindingBatchResult Apply(IReadOnlyList<FilterBinding> bindings)
    {
        if (Backend is { } kind)
        {
            bindings = [.. bindings.Select(b => b with { Backend = kind })];
        }
        var result = Manager.ApplyAsync(bindings).GetAwaiter().GetResult();
        foreach (var item in result.Items)
        {
            Assert.True(item.Succeeded, $"{item.PortDevice}: {item.Error?.Message}");
        }
        return result;
    }

    public BindingBatchResult Remove(params string[] ports) => Manager.RemoveAsync(ports).GetAwaiter().GetResult();

    /// <summary>The three tables as the save tools print them, without comments and counters.</summary>
    public string Save()
    {
        var text = "";
        foreach (var (tool, table) in new[] { ("ebtables-save", "nat"), ("iptables-save", "filter"), ("ip6tables-save", "filter") })
        {
            text += LibvirtCapture.WithoutComments(Lab.RunInHostChecked(tool, "-t", table).StandardOutput).Replace(" [0:0]", "", StringComparison.Ordinal);
        }
        return text;
    }

    public string Save(string tool, string table) =>
        LibvirtCapture.WithoutComments(Lab.RunInHostChecked(tool, "-t", table).StandardOutput).Replace(" [0:0]", "", StringComparison.Ordinal);

    public void Dispose()
    {
        Learners?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Lab.Dispose();
        _state.Dispose();
    }
}
