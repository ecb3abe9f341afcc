using System.Diagnostics;
using System.Globalization;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// A 200-binding apply and a live update (a filter redefined, its bindings re-instantiated) run in a child process
/// (tests/NwFilter.StoreWriter) that SIGKILLs itself at a point named by NWFILTER_FAULT_KILL (the seam
/// <see cref="FaultInjection"/>): after the files are written, after the N-th host program returned, after a backend
/// committed. Afterwards every port has its old rules or its new ones (its footprint, the drift test's per-port view,
/// is one or the other), and a Restore brings the kernel to what the store says: every port then has the new rules.
/// CI runs four points per campaign; NWFILTER_CRASH_CAMPAIGN=full runs the first 30 host programs (bench/README.md).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class CrashTests
{
    private const int Count = 200;
    private const string Old = "no-mac-spoofing";
    private const string New = "allow-arp";

    public static TheoryData<FirewallBackendKind, bool> Campaigns => new()
    {
        { FirewallBackendKind.EbIpTables, false },
        { FirewallBackendKind.Nftables, false },
        { FirewallBackendKind.EbIpTables, true },
        { FirewallBackendKind.Nftables, true },
    };

    [SkippableTheory]
    [MemberData(nameof(Campaigns))]
    public async Task AKillAtAnyPointLeavesEachPortWithItsOldOrNewRulesAndRestoreCompletesTheChange(FirewallBackendKind backend, bool update)
    {
        using var lab = BindingLab.Create(1);
        using var state = new TempDirectory("nwfilter-crash");
        var directory = state.Combine("bindings");
        var ports = Enumerable.Range(0, Count).Select(i => $"fault{i}").ToList();
        var store = new BindingStore(directory, lab.Lab.HostNamespace);

        // The expected footprints: the new state first, then the old one the campaign starts from each time.
        await Reset(lab, store, backend, update, New);
        var wanted = await Footprints(lab, backend, ports);
        await Reset(lab, store, backend, update, Old);
        var old = await Footprints(lab, backend, ports);
        Assert.All(ports, p => Assert.NotEqual(old[p], wanted[p]));

        var points = new List<string> { $"{FaultInjection.StoreWritten}:1", $"{FaultInjection.BackendApplied}:1" };
        var full = Environment.GetEnvironmentVariable("NWFILTER_CRASH_CAMPAIGN") == "full";
        points.AddRange((full ? Enumerable.Range(1, 30) : [1, 3]).Select(n => $"{FaultInjection.HostProcess}:{n}"));
        var killed = 0;
        var hostKills = new List<bool>();
        foreach (var point in points)
        {
            var (exit, error) = await RunChild(lab, directory, backend, update, point);
            Assert.True(exit is 0 or 137, $"{point}: exit {exit}: {error}");
            killed += exit == 137 ? 1 : 0;
            if (point.StartsWith(FaultInjection.HostProcess + ":", StringComparison.Ordinal))
            {
                hostKills.Add(exit == 137);
            }
            var now = await Footprints(lab, backend, ports);
            var mixed = ports.Where(p => now[p] != old[p] && now[p] != wanted[p]).ToList();
            Assert.True(mixed.Count == 0, $"{point}: {mixed.Count} port(s) with neither their old nor their new rules, e.g. {mixed.FirstOrDefault()}:\n{(mixed.Count > 0 ? now[mixed[0]] : "")}");
            if (exit == 0)
            {
                Assert.All(ports, p => Assert.Equal(wanted[p], now[p]));
            }

            var manager = Manager(lab, store, update ? New : Old);
            // The drift check (what Restore reports as found) sees every port that does not have its new rules in force.
            var drift = (await manager.TestAsync()).Where(d => !d.InSync).Select(d => d.PortDevice).ToHashSet(StringComparer.Ordinal);
            var stale = ports.Where(p => now[p] != wanted[p]).ToList();
            Assert.True(stale.All(drift.Contains), $"{point}: {stale.Count(p => !drift.Contains(p))} port(s) with their old rules that the drift check calls in sync");
            Console.WriteLine($"crash {backend} {(update ? "update" : "apply")} {point}: exit {exit}; then {stale.Count} port(s) with old rules, {Count - stale.Count} with new, 0 mixed; drift check: {drift.Count} not in sync");
            var restore = await manager.RestoreAsync();
            Assert.All(restore.Items, i => Assert.True(i.Succeeded, $"{point}: {i.PortDevice}: {i.Error?.Message}"));
            Assert.True(restore.Items.Length == Count, $"{point}: Restore re-applied {restore.Items.Length} binding(s), not {Count}; warnings: {string.Join("; ", restore.Warnings.Select(w => w.Message))}");
            var after = await Footprints(lab, backend, ports);
            Assert.All(ports, p => Assert.True(wanted[p] == after[p], $"{point}: {p} after Restore:\n{after[p]}"));
            Assert.All(await manager.TestAsync(), d => Assert.True(d.InSync, $"{point}: {d.PortDevice} is {d.Status} after Restore"));
            Assert.All(store.List().Bindings, b => Assert.Equal(update ? "fault-vm" : New, b.Filter));
            await Reset(lab, store, backend, update, Old);
        }
        // nftables runs fewer host programs than ebtables/iptables (an apply 2, ebtables/iptables 7), and an update
        // writes no binding file: points past the end complete. Those reached must be the first ones, without a gap.
        Assert.True(killed >= 2, $"only {killed} of {points.Count} points were reached");
        var reached = hostKills.TakeWhile(k => k).Count();
        Assert.True(hostKills.Skip(reached).All(k => !k), $"host-process points reached with a gap: {string.Join("", hostKills.Select(k => k ? 'x' : '.'))}");
    }

    /// <summary>Puts every port back on <paramref name="filter"/> (directly, or for an update through fault-vm), in process.</summary>
    private static async Task Reset(BindingLab lab, BindingStore store, FirewallBackendKind backend, bool update, string filter)
    {
        var manager = Manager(lab, store, filter);
        var bindings = Enumerable.Range(0, Count).Select(i => new FilterBinding($"fault{i}",
            System.Net.NetworkInformation.PhysicalAddress.Parse($"52-54-00-00-{i / 256:X2}-{i % 256:X2}"), update ? "fault-vm" : filter) { Backend = backend, OwnerName = $"vm{i}", OwnerUuid = new Guid($"00000000-0000-4000-8000-{i:x12}") }).ToList();
        if (update && store.List().Bindings.Length == Count)
        {
            await manager.ReinstantiateAsync(manager.Filters, ["fault-vm"]);
            return;
        }
        var result = await manager.ApplyAsync(bindings);
        Assert.All(result.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
    }

    private static BindingManager Manager(BindingLab lab, BindingStore store, string faultVmTarget) =>
        new(new BindingManagerOptions
        {
            NetworkNamespace = lab.Lab.HostNamespace,
            HostRunner = lab.Lab.HostRunner,
            Filters = new InMemoryFilterSource([.. BuiltInFilters.All, new FilterDefinition("fault-vm") { Entries = [new FilterReference(faultVmTarget)] }]),
            Store = store,
        });

    /// <summary>
    /// Each port's footprint in its backend (the lines the drift test compares), one text per port, its lines sorted:
    /// nft lists a table's blocks in creation order, which a first apply and a later one make differ.
    /// </summary>
    private static async Task<Dictionary<string, string>> Footprints(BindingLab lab, FirewallBackendKind backend, List<string> ports)
    {
        var footprint = await FirewallBackends.Get(backend).ReadFootprintAsync(lab.Lab.HostRunner, true, CancellationToken.None);
        return ports.ToDictionary(p => p, p => string.Join("\n", InForce(footprint.Of(p, out _)).Order(StringComparer.Ordinal)), StringComparer.Ordinal);
    }

    /// <summary>
    /// The ebtables/iptables lines a packet can meet: the base chains' lines (for iptables' libvirt-in/-out/-host-in
    /// only each port's first link: a -g never returns, so later links are shadowed), and the chains reachable from
    /// them; temporary chain names (libvirt-J/P, J/P, FJ/FP/HJ) are given their final names, since which name a chain
    /// has does not change what it does. So old rules plus the inert chains of a build, or new rules whose rename is
    /// still pending, read as the old and the new rules. nftables lines are kept as they are (one transaction).
    /// </summary>
    internal static List<string> InForce(List<string> lines)
    {
        var xt = lines.Where(l => l.StartsWith("ebtables: ", StringComparison.Ordinal) || l.StartsWith("iptables: ", StringComparison.Ordinal) || l.StartsWith("ip6tables: ", StringComparison.Ordinal)).ToList();
        if (xt.Count == 0)
        {
            return lines;
        }
        static (string Tool, string? Chain, string? Target) Parse(string line)
        {
            var tool = line[..line.IndexOf(':', StringComparison.Ordinal)];
            var words = line[(tool.Length + 2)..].Split(' ');
            var chain = words[0] == "-A" ? words[1] : words[0].StartsWith(':') ? words[0][1..] : null;
            var jump = Array.FindIndex(words, w => w is "-j" or "-g");
            return (tool, chain, jump >= 0 && jump + 1 < words.Length ? words[jump + 1] : null);
        }
        var bases = new HashSet<string>(["PREROUTING", "POSTROUTING", "FORWARD", "INPUT", "OUTPUT", "libvirt-in", "libvirt-out", "libvirt-host-in", "libvirt-in-post"], StringComparer.Ordinal);
        var shadowing = new HashSet<string>(["libvirt-in", "libvirt-out", "libvirt-host-in"], StringComparer.Ordinal);
        var kept = new List<string>();
        var reachable = new HashSet<(string, string)>();
        var linked = new HashSet<(string, string)>();
        foreach (var line in xt)
        {
            var (tool, chain, target) = Parse(line);
            if (chain is null || !bases.Contains(chain) || line.StartsWith(tool + ": :", StringComparison.Ordinal))
            {
                continue;
            }
            if (shadowing.Contains(chain) && !linked.Add((tool, chain)))
            {
                continue;
            }
            kept.Add(line);
            if (target is not null)
            {
                reachable.Add((tool, target));
            }
        }
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var line in xt)
            {
                var (tool, chain, target) = Parse(line);
                if (chain is not null && target is not null && reachable.Contains((tool, chain)) && reachable.Add((tool, target)))
                {
                    grew = true;
                }
            }
        }
        kept.AddRange(xt.Where(l => Parse(l) is var (tool, chain, _) && chain is not null && !bases.Contains(chain) && reachable.Contains((tool, chain))));
        return [.. kept.Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"(?<![\w-])(libvirt-)?J-", "$1I-"))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"(?<![\w-])(libvirt-)?P-", "$1O-"))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"(?<![\w-])(F|H)J-", "$1I-"))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"(?<![\w-])FP-", "FO-")),
            .. lines.Except(xt)];
    }

    private static async Task<(int Exit, string Error)> RunChild(BindingLab lab, string directory, FirewallBackendKind backend, bool update, string point)
    {
        var info = new ProcessStartInfo(TwoWriterTests.DotnetHost()) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { TwoWriterTests.HelperPath(), "bindings", update ? "update" : "apply", directory, lab.Lab.HostNamespace, backend.ToString(),
                     Count.ToString(CultureInfo.InvariantCulture), New })
        {
            info.ArgumentList.Add(a);
        }
        info.Environment[FaultInjection.Variable] = point;
        using var child = Process.Start(info)!;
        var error = child.StandardError.ReadToEndAsync();
        await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        return (child.ExitCode, await error);
    }
}
