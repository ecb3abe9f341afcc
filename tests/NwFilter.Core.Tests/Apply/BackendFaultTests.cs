using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// An nft transaction the kernel really refuses (a statement that cannot hold is appended to the script the backend
/// sends): the binding's error names the port, nft's reason and the failing line, and the previous rules stay in force, as
/// the ruleset, the store and packets show (the allowed ping passes, a forged frame is dropped while the same frame
/// from an unfiltered VM arrives).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class BackendFaultTests
{
    private const string Impossible = "delete chain bridge nwfilter no/1/1/I";
    private const string Forged = "52:54:00:66:66:66";

    [SkippableFact]
    public void ARefusedNftTransactionNamesThePortAndTheStatementAndLeavesThePreviousRulesInForce()
    {
        using var lab = BindingLab.Create(3, FirewallBackendKind.Nftables);
        var (vm0, vm1, vm2) = (lab.Vms[0], lab.Vms[1], lab.Vms[2]);
        lab.Apply(BindingLab.CleanTraffic(vm0));
        var before = lab.Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput;

        lab.NewManager(inner => new Breaking(inner));
        var result = lab.Manager.ApplyAsync([BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4)) with { Backend = FirewallBackendKind.Nftables }]).GetAwaiter().GetResult();

        var error = Assert.Single(result.Items).Error!.Primary;
        Assert.Equal(NftablesCodes.NftFailed, error.Code);
        Assert.StartsWith($"Port {vm0.PortDevice}: ", error.Message, StringComparison.Ordinal);
        // nft's reason and the failing line; the statement itself is quoted when the line is one of NwFilter's own
        // (here it was appended behind the applier's back: NftKernelCheckTests shows the statement quoted).
        Assert.Contains("No such file or directory", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.Line);
        Assert.Contains("Nothing was changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, lab.Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput);
        Assert.Equal("clean-traffic", Assert.Single(lab.Store.List().Bindings).Filter);

        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), "clean-traffic still lets the VM's own traffic pass");
        Assert.True(lab.Lab.FrameArrives(vm2, vm1, Frames.Arp(Forged, 1, Forged, vm2.IPv4, "00:00:00:00:00:00", vm1.IPv4), $"ether src {Forged}"),
            "positive control: the forged frame from the unfiltered vm2 arrives");
        Assert.False(lab.Lab.FrameArrives(vm0, vm1, Frames.Arp(Forged, 1, Forged, vm0.IPv4, "00:00:00:00:00:00", vm1.IPv4), $"ether src {Forged}"),
            "clean-traffic still drops vm0's forged frame");
        lab.NewManager();
        lab.Remove(vm0.PortDevice);
    }

    /// <summary>Appends <see cref="Impossible"/> to every nft script NwFilter sends: the kernel refuses the whole transaction.</summary>
    private sealed class Breaking(IProcessRunner inner) : IProcessRunner
    {
        public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default) =>
            inner.RunAsync(request.StandardInput is { } script && script.Contains("nwfilter", StringComparison.Ordinal)
                ? request with { StandardInput = script.TrimEnd('\n') + "\n" + Impossible + "\n" }
                : request, cancellationToken);
    }
}
