using System.Collections.Immutable;
using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.EbIpTables;

/// <summary>
/// Compares with the commands a real libvirt 9.0 ran (live-9.0 in the corpus) when instantiating clean-traffic on
/// vnet0: applyNewRules on a fresh host, then tearOldRules with the temporary chains listed as ebtables lists them.
/// Clean-traffic has only Ethernet rules, so the iptables base-chain code (which changed after 9.0) is not involved.
/// </summary>
public class LiveTranscriptTests
{
    [SkippableFact]
    public void CleanTrafficMatchesTheCommandsLibvirtRan()
    {
        var live = Corpus.Path("live-9.0", "01-clean-traffic-vnet0.commands.txt");
        var expected = string.Concat(File.ReadLines(live).Select(l => l.Replace("/usr/sbin/", "", StringComparison.Ordinal) + "\n"));

        var source = new DirectoryFilterSource(Corpus.Path("src", "nwfilter", "xml"));
        var resolution = FilterResolver.Resolve(source, "clean-traffic", ParameterSet.Empty.With("IP", "10.99.0.10"), PhysicalAddress.Parse("52-54-00-AA-BB-CC"));
        var backend = EbIpTablesBackend.Instance;

        var apply = DryRunRecorder.Run(backend.ApplyNewRules("vnet0", resolution.Instances), SimulatedHost.Empty);

        // After applyNewRules, ebtables lists the temporary root chains like this (jump targets are what matters).
        var built = SimulatedHost.Empty with
        {
            EbtablesListings = ImmutableDictionary<string, ImmutableArray<string>>.Empty
                .Add("libvirt-J-vnet0",
                [
                    "-j J-vnet0-mac", "-p IPv4 -j J-vnet0-ipv4-ip", "-p IPv4 -j ACCEPT", "-p ARP -j J-vnet0-arp-mac",
                    "-p ARP -j J-vnet0-arp-ip", "-p ARP -j ACCEPT", "-p RARP -j J-vnet0-rarp", "-p 0x835 -j ACCEPT", "-j DROP",
                ])
                .Add("libvirt-P-vnet0", ["-p IPv4 -j P-vnet0-ipv4", "-p ARP -j ACCEPT", "-p RARP -j P-vnet0-rarp", "-j DROP"]),
        };
        var tearOld = DryRunRecorder.Run(backend.TearOldRules("vnet0"), built);

        Assert.Equal(expected, CommandPrinter.ShellLines([.. apply, .. tearOld]));
    }
}
