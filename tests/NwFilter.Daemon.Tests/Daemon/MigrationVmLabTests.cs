using System.Diagnostics;
using NwFilter.Daemon.Tests.TestSupport;
using Xunit.Abstractions;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// Live migration between two real libvirtd 9.0 (two vm-labs at once, each in its own network namespace with its own
/// private libvirt directories), each with our forwarding module and its own nwfilterd: a clean-traffic guest moves from
/// the source lab to the target lab with <c>virsh migrate --live --p2p --tunnelled</c> (the migration stream goes over
/// the libvirtd connection, a Unix socket, so the two namespaces need no network between them). What libvirt's qemu
/// driver does on each side reaches each side's nwfilterd: on the target the binding is created while the incoming guest
/// is still paused, on the source it is deleted when the guest has left.
/// </summary>
[Collection(VmLabCollection.Name)]
public sealed class MigrationVmLabTests(VmLabPair labs, ITestOutputHelper output) : IClassFixture<VmLabPair>
{
    private const string SpoofGuest = "10.97.0.250";
    private const string SpoofOpen = "10.97.0.251";

    [SkippableFact]
    public async Task A_live_migrated_guest_is_filtered_on_the_target_before_it_runs_there_and_its_binding_and_rules_leave_the_source()
    {
        labs.Require();
        var (source, target) = (labs.Source, labs.Target);
        foreach (var line in labs.Journal)
        {
            output.WriteLine(line);
        }
        var oldPort = Assert.Single(await source.PortsOf(VmLabPair.Guest));
        Assert.Equal([oldPort], await source.Bindings());
        Assert.Equal(labs.GuestAddress, await source.LearnedAddress(oldPort));
        Assert.Empty(await target.Bindings());

        // The target's domain XML: the same guest, its serial files in the target lab's directory (the source's qemu holds
        // the source lab's); libvirt keeps the MAC and the filterref from the source's definition.
        var xml = (await source.Virsh("dumpxml", "--migratable", VmLabPair.Guest)).EnsureSuccess().StandardOutput
            .Replace(Path.Combine(source.VmLabDirectory, VmLabPair.Guest + "."), Path.Combine(target.VmLabDirectory, VmLabPair.Guest + "."), StringComparison.Ordinal);
        var xmlFile = Path.Combine(target.VmLabDirectory, "nwm-target.xml");
        await File.WriteAllTextAsync(xmlFile, xml);
        var sourceLines = source.Daemon!.Lines.Count;

        var clock = Stopwatch.StartNew();
        var migrate = source.Virsh("migrate", "--live", "--p2p", "--tunnelled", "--xml", xmlFile, VmLabPair.Guest,
            "qemu+unix:///system?socket=" + Path.Combine(target.VmLabDirectory, "run", "libvirt-sock"));
        // While it migrates: the guest's state on the target, the target's bindings and whether its kernel has rules for them.
        var samples = new List<(string State, IReadOnlyList<string> Bound, bool Rules)>();
        while (!migrate.IsCompleted)
        {
            var state = (await VmLab.Run("virsh", ["-c", target.LibvirtUri, "domstate", "--reason", VmLabPair.Guest], 30)).StandardOutput.Trim();
            var bound = await target.Bindings();
            var rules = await Rules(target);
            samples.Add((state, bound, bound.Count == 1 && rules.Contains(bound[0], StringComparison.Ordinal)));
            await Task.Delay(100);
        }
        (await migrate).EnsureSuccess();
        output.WriteLine($"virsh migrate --live: {clock.ElapsedMilliseconds} ms; on the target while it ran: {string.Join("; ", samples.Select(s => $"{s.State} bound={string.Join(",", s.Bound)} rules={s.Rules}"))}");

        // Filtered from its first packet on the target: its port is bound, with rules in the target's kernel, while the
        // incoming guest is still paused (it has run no instruction there), and it never runs there unbound.
        Assert.Contains(samples, s => s.State.StartsWith("paused", StringComparison.Ordinal) && s.Rules);
        Assert.DoesNotContain(samples, s => s.State.StartsWith("running", StringComparison.Ordinal) && !s.Rules);
        Assert.Contains("running", (await target.Virsh("domstate", VmLabPair.Guest)).StandardOutput);
        var port = Assert.Single(await target.PortsOf(VmLabPair.Guest));
        Assert.Equal([port], await target.Bindings());
        var binding = (await target.Virsh("nwfilter-binding-dumpxml", port)).EnsureSuccess().StandardOutput;
        Assert.Contains($"<name>{VmLabPair.Guest}</name>", binding);
        Assert.Contains("<filterref filter='clean-traffic'>", binding);

        // On the target: the guest's address is learned again (its first ARP or IP packet there), its own traffic passes,
        // a spoofed source is dropped, and the same spoof from the target's unfiltered guest is answered.
        await target.MarkRestoredAsync(VmLabPair.Guest); // its command server runs on; its console log starts afresh on the target
        Assert.Equal(labs.GuestAddress, await target.LearnedAddress(port));
        Assert.True(await target.OwnPingAnswered(VmLabPair.Guest), "the migrated guest's own traffic passes on the target");
        Assert.True(await target.PingAnsweredFrom(VmLabPair.Open, SpoofOpen), "positive control: a spoofed source from the target's unfiltered guest is answered");
        Assert.False(await target.PingAnsweredFrom(VmLabPair.Guest, SpoofGuest), "a spoofed source from the migrated guest is dropped on the target");

        // On the source: the guest is gone, and with it its binding, its rules and its lease.
        Assert.Contains("shut off", (await source.Virsh("domstate", VmLabPair.Guest)).StandardOutput);
        Assert.Empty(await source.Bindings());
        Assert.Contains($"binding {oldPort} deleted", source.Daemon.Lines.Skip(sourceLines));
        Assert.DoesNotContain(oldPort, await Rules(source));
        Assert.Null(await source.LearnedAddress(oldPort, seconds: 0));
    }

    /// <summary>The lab's firewall as text, whichever backend nwfilterd chose: its nftables ruleset and its ebtables.</summary>
    private static async Task<string> Rules(VmLab lab) =>
        (await VmLab.Run("ip", ["netns", "exec", lab.NetworkNamespace, "sh", "-c", "nft list ruleset 2>/dev/null; ebtables-save 2>/dev/null; true"], 30)).EnsureSuccess().StandardOutput;
}

/// <summary>The vm-lab test classes run one after another (each runs TCG guests; the machine is small).</summary>
[CollectionDefinition(Name)]
public sealed class VmLabCollection
{
    public const string Name = "vm-lab";
}

/// <summary>
/// Two vm-labs of their own (<c>/tmp/vmlab-nwmA</c> in namespace <c>vmlab-nwma</c>, <c>/tmp/vmlab-nwmB</c> in
/// <c>vmlab-nwmb</c>), next to the default lab of <see cref="BridgeVmLabTests"/>, each with our forwarding module and its own
/// nwfilterd: on the source the clean-traffic guest <see cref="Guest"/>, on the target the unfiltered guest
/// <see cref="Open"/> (the positive control). Both labs are taken down at the end, also after a failed set-up.
/// </summary>
public sealed class VmLabPair : IAsyncLifetime
{
    public const string Guest = "nwm-guest";
    public const string Open = "nwm-open";

    private readonly List<string> _journal = [];
    private bool _up;

    public VmLab Source { get; } = new("/tmp/vmlab-nwmA", "vmlab-nwma", guests: false);

    public VmLab Target { get; } = new("/tmp/vmlab-nwmB", "vmlab-nwmb", guests: false);

    /// <summary>The migrating guest's DHCP address (from the source lab's dnsmasq; it keeps it on the target).</summary>
    public string GuestAddress { get; private set; } = "";

    public IReadOnlyList<string> Journal => _journal;

    public void Require()
    {
        Source.Require();
        Target.Require();
        if (!_up)
        {
            throw new InvalidOperationException("the labs did not come up:\n" + string.Join("\n", _journal));
        }
    }

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Source.InitializeAsync(), Target.InitializeAsync());
        _journal.AddRange(Source.Journal.Select(l => "source: " + l));
        _journal.AddRange(Target.Journal.Select(l => "target: " + l));
        try
        {
            Source.Require();
            Target.Require();
        }
        catch (Exception e)
        {
            _journal.Add(e.Message);
            return;
        }
        try
        {
            (await Source.Lab("define", Guest, "--filter", "clean-traffic")).EnsureSuccess();
            (await Target.Lab("define", Open)).EnsureSuccess();
            var guest = Source.Lab("start", Guest, "--wait-ip");
            var open = Target.Lab("start", Open, "--wait-ip");
            GuestAddress = (await guest).EnsureSuccess().StandardOutput.Trim();
            (await open).EnsureSuccess();
            _journal.Add($"two labs up, nwfilterd in each, two guests to their leases: {clock.Elapsed.TotalSeconds:0.0} s");
            _up = true;
        }
        catch (Exception e)
        {
            _journal.Add(e.ToString());
        }
    }

    public async Task DisposeAsync() => await Task.WhenAll(Source.DisposeAsync(), Target.DisposeAsync());
}
