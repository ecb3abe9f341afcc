using System.Text.RegularExpressions;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Daemon.Tests.TestSupport;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// First start on a libvirt host (<c>--import-libvirt</c>): the files real libvirt 9.0 (libvirt-ref) writes for a filter
/// and a running VM's binding are taken over by nwfilterd; the port's rules, which libvirt had put in place, are the
/// very same after the take-over (EbIpTables mode writes libvirt's chains), and a second start imports nothing again.
/// </summary>
[Collection(LibvirtRefCollection.Name)]
public sealed partial class LibvirtImportTests : IDisposable
{
    // libvirt-ref is shared with the other test assembly's differential tests: each test here holds it alone.
    private readonly LibvirtRefLock _libvirtRef = LibvirtRefLock.Take();

    public void Dispose() => _libvirtRef.Dispose();

    private const string Port = "vnetdimp0";
    private const string FilterName = "nwfd-import";

    [GeneratedRegex(@" \[\d+:\d+\]")]
    private static partial Regex Counters();

    /// <summary>The port's rules and chains, as the save tools print them (no comments, no counters), each family.</summary>
    private static string PortRules(string ns) => string.Join("\n", new[] { "ebtables-save", "iptables-save", "ip6tables-save" }.SelectMany(tool =>
        TestNamespace.Run("ip", "netns", "exec", ns, tool).StandardOutput.Split('\n')
            .Where(l => l.Contains(Port, StringComparison.Ordinal) || (l.Length > 0 && l.Contains("-vnetdimp", StringComparison.Ordinal)))
            .Select(l => Counters().Replace(l, ""))));

    [SkippableFact]
    public async Task AHostMovesOverWithItsFiltersAndItsRunningVmsBindings()
    {
        LibvirtRef.Require();
        Requirement.Program("ebtables-restore");
        Requirement.Program("iptables-restore");
        using var dir = new TempDirectory("nwfilterd-import");
        var libvirtFilters = Directory.CreateDirectory(dir.Combine("etc-libvirt-nwfilter")).FullName;
        var libvirtBindings = Directory.CreateDirectory(dir.Combine("run-libvirt-nwfilter-binding")).FullName;
        string libvirtRules;
        string ebtables, iptables;
        Guid libvirtUuid;

        // libvirt makes the filter and a running VM's binding; its files and its rules are kept, then it forgets them.
        File.WriteAllText(dir.Combine("f.xml"), $"<filter name='{FilterName}' chain='root'><filterref filter='clean-traffic'/><rule action='drop' direction='in' priority='500'><tcp dstportstart='2501'/></rule></filter>");
        File.WriteAllText(dir.Combine("b.xml"), $"<filterbinding><owner><name>vm-import</name><uuid>8c3a3e2b-1f40-4a8e-9d6b-3b1a7f0c2d11</uuid></owner><portdev name='{Port}'/><mac address='52:54:00:d0:0a:01'/><filterref filter='{FilterName}'><parameter name='IP' value='192.0.2.51'/></filterref></filterbinding>");
        TestNamespace.AddPort(LibvirtRef.Namespace, Port);
        try
        {
            Assert.Equal(0, LibvirtRef.Virsh(LibvirtRef.Uri, ["nwfilter-define", dir.Combine("f.xml")]).ExitCode);
            var created = LibvirtRef.Virsh(LibvirtRef.Uri, ["nwfilter-binding-create", dir.Combine("b.xml")]);
            Assert.True(created.ExitCode == 0, created.StandardError);
            foreach (var f in Directory.EnumerateFiles(LibvirtFilterFiles.SystemDirectory, "*.xml"))
            {
                File.Copy(f, Path.Combine(libvirtFilters, Path.GetFileName(f)));
            }
            File.Copy($"/run/libvirt/nwfilter-binding/{Port}.xml", Path.Combine(libvirtBindings, Port + ".xml"));
            Assert.Contains("<filterbindingstatus>", File.ReadAllText(Path.Combine(libvirtBindings, Port + ".xml")));
            libvirtUuid = Guid.Parse(Regex.Match(File.ReadAllText(Path.Combine(libvirtFilters, FilterName + ".xml")), "<uuid>([^<]+)</uuid>").Groups[1].Value);
            libvirtRules = PortRules(LibvirtRef.Namespace);
            ebtables = TestNamespace.Run("ip", "netns", "exec", LibvirtRef.Namespace, "ebtables-save").StandardOutput;
            iptables = TestNamespace.Run("ip", "netns", "exec", LibvirtRef.Namespace, "iptables-save").StandardOutput;
        }
        finally
        {
            LibvirtRef.Virsh(LibvirtRef.Uri, ["nwfilter-binding-delete", Port]);
            LibvirtRef.Virsh(LibvirtRef.Uri, ["nwfilter-undefine", FilterName]);
            TestNamespace.Run("ip", "-n", LibvirtRef.Namespace, "link", "delete", Port);
        }
        Assert.Contains("libvirt-I-" + Port, libvirtRules);
        Assert.Contains("192.0.2.51", libvirtRules);

        // The host as libvirt left it: the port with libvirt's rules in force (the tables as libvirt-ref had them).
        using var ns = new TestNamespace();
        TestNamespace.AddPort(ns.Name, Port);
        Restore(ns.Name, "ebtables-restore", ebtables);
        Restore(ns.Name, "iptables-restore", iptables);
        Assert.Equal(libvirtRules, PortRules(ns.Name));

        string[] import = ["--import-libvirt", "--libvirt-filter-dir", libvirtFilters];
        await using (var first = await StartAsync(dir, ns.Name, libvirtBindings, import))
        {
            Assert.True(first.Lines.Contains($"import: binding {Port} ({FilterName}) taken over from libvirt"), string.Join("\n", first.Lines));
            Assert.Contains(first.Lines, l => l.StartsWith($"import: filter {FilterName} created from {libvirtFilters} ({libvirtUuid})", StringComparison.Ordinal));
            Assert.Contains(first.Lines, l => l == "import: done");
            // libvirt's uuid is kept, so the filter is the same object for virsh.
            var stored = new FilterStore(dir.Combine("config")).Get(FilterName);
            Assert.Equal(libvirtUuid, stored!.Uuid);
            Assert.Equal(Port, Assert.Single(BindingStore.Open(new StoreLocation(dir.Combine("config"), dir.Combine("state")), null).List().Bindings).PortDevice);
            // The take-over wrote libvirt's very rules (byte-exact EbIpTables): nothing of the port changed.
            Assert.Equal(libvirtRules, PortRules(ns.Name));
            var list = LibvirtRef.Virsh(first.Uri, ["-q", "nwfilter-binding-list"]);
            Assert.Matches($@"(?m)^\s*{Port}\s+{FilterName}\s*$", list.StandardOutput);
        }

        // Starting again (with the import, as a unit would, and without): nothing is taken over twice, no conflict is seen.
        await using (var second = await StartAsync(dir, ns.Name, libvirtBindings, import))
        {
            Assert.DoesNotContain(second.Lines, l => l.Contains("taken over", StringComparison.Ordinal) || l.Contains($"filter {FilterName} ", StringComparison.Ordinal));
            Assert.Contains(second.Lines, l => l == "import: done");
        }
        await using (var third = await StartAsync(dir, ns.Name, libvirtBindings, []))
        {
            Assert.DoesNotContain(third.Lines, l => l.Contains("LibvirtNwFilterConflict", StringComparison.Ordinal));
            Assert.Equal(libvirtRules, PortRules(ns.Name));
        }
    }

    [SkippableFact]
    public async Task WithoutTheImportLibvirtsBindingsAreStillAConflict()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        using var dir = new TempDirectory("nwfilterd-import-conflict");
        var bindings = Directory.CreateDirectory(dir.Combine("run-libvirt")).FullName;
        File.WriteAllText(Path.Combine(bindings, "vnetdimp1.xml"), "<filterbindingstatus><filterbinding><owner><name>x</name><uuid>8c3a3e2b-1f40-4a8e-9d6b-3b1a7f0c2d12</uuid></owner><portdev name='vnetdimp1'/><mac address='52:54:00:d0:0a:02'/><filterref filter='clean-traffic'/></filterbinding></filterbindingstatus>");
        using var ns = new TestNamespace();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(dir, ns.Name, bindings, ["--backend", "EbIpTables"]));
        Assert.Contains("LibvirtNwFilterConflict", e.Message);
    }

    private static Task<DaemonProcess> StartAsync(TempDirectory dir, string ns, string libvirtBindings, string[] extra) =>
        DaemonProcess.StartAsync(dir, ns, ["--libvirt-binding-dir", libvirtBindings, .. extra]);

    private static void Restore(string ns, string tool, string text)
    {
        var r = Core.Host.ProcessRunner.Default.RunAsync(new Core.Host.ProcessRequest("ip", ["netns", "exec", ns, tool]) { StandardInput = text, Timeout = TimeSpan.FromSeconds(60) }).GetAwaiter().GetResult();
        Assert.True(r.ExitCode == 0, $"{tool}: {r.StandardError}");
    }
}
