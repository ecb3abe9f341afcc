using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>
/// The held libnftables context of a long-running process (docs/design/nftables.md, "The held context"): the applier
/// plans on the state its last commit left only while the kernel's generation id says nobody else committed since; any
/// other commit (another process's nft, even in a table that is not ours) makes it read the state again, so a change
/// made behind its back is never planned over. Real kernel, in the lab's namespace.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class HeldNftablesContextTests
{
    [SkippableFact]
    public void EachCommitMovesTheGenerationByOneAndAnotherProcessesCommitIsSeen()
    {
        Requirement.Require("libnftables", LibNftablesRunner.IsAvailable, "libnftables.so.1 is not installed");
        using var lab = NftLab.Create(2);
        using var runner = new LibNftablesRunner(lab.Lab.HostNamespace);
        var g0 = runner.GenerationAsync().GetAwaiter().GetResult();
        Assert.NotNull(g0);
        var applier = new NftablesApplier(runner);
        applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(lab.Vms[0], "clean-traffic"))]).GetAwaiter().GetResult();
        Assert.Equal(g0 + 1, runner.GenerationAsync().GetAwaiter().GetResult());
        // A listing commits nothing; another process's transaction moves it too.
        applier.ReadStateAsync().GetAwaiter().GetResult();
        Assert.Equal(g0 + 1, runner.GenerationAsync().GetAwaiter().GetResult());
        lab.Lab.RunInHostChecked("nft", "add", "table", "inet", "someone-else");
        Assert.Equal(g0 + 2, runner.GenerationAsync().GetAwaiter().GetResult());
    }

    [SkippableFact]
    public void ChangesPlanOnTheKnownStateUntilAnotherProcessCommitsThenReadItAgain()
    {
        Requirement.Require("libnftables", LibNftablesRunner.IsAvailable, "libnftables.so.1 is not installed");
        Requirement.Require("root", NwFilter.Core.Store.StoreLocation.IsRoot, "the held context is only taken as root");
        using var lab = NftLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        using var held = new HeldNftablesContext(new NamespacedProcessRunner(ProcessRunner.Default, lab.Lab.HostNamespace), lab.Lab.HostNamespace);
        var applier = NftablesBackend.Applier(held);
        Assert.Same(applier, NftablesBackend.Applier(held)); // one applier per held context: its known state is kept

        var first = applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]).GetAwaiter().GetResult();
        Assert.Equal(2, first.ProcessLaunches); // nothing known yet: the listing, then the transaction (both in-process)
        Assert.True(held.IsOpen);
        var second = NftablesBackend.Applier(held).ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm1, "clean-traffic"))]).GetAwaiter().GetResult();
        Assert.Equal(1, second.ProcessLaunches); // planned on the state the first left: no listing
        Assert.False(second.Replanned);

        // Another process removes vm1's rules behind the held context's back (the chains and the map element).
        var outside = NftScriptPlanner.Plan(lab.State(), [NftPortChange.Remove(vm1.PortDevice)]);
        lab.Lab.HostRunner.RunAsync(new ProcessRequest("nft", "-f", "-") { StandardInput = outside.Text }).GetAwaiter().GetResult().EnsureSuccess();
        Assert.DoesNotContain(vm1.PortDevice, lab.State().Ports.Keys);

        // Re-applying vm1 now: the generation moved, so the state is read again (a listing) and the port comes back whole,
        // where planning on the known state would have deleted chains that are gone (and failed).
        var third = applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm1, "clean-traffic"))]).GetAwaiter().GetResult();
        Assert.Equal(2, third.ProcessLaunches);
        Assert.False(third.Replanned);
        var after = lab.State();
        Assert.Equal(1, after.Ports[vm1.PortDevice].Single().Generation); // made anew, not "generation 2 of a port that is gone"
        Assert.Contains($"\"{vm1.PortDevice}\" : jump", lab.Ruleset(), StringComparison.Ordinal);
        Assert.True(lab.Lab.Ping(vm0.Namespace, vm1.IPv4, timeout: TimeSpan.FromSeconds(3)), "the two VMs reach each other through their rules");

        // A commit elsewhere (a table that is not ours) also makes it read again: it cannot tell what changed.
        lab.Lab.RunInHostChecked("nft", "add", "table", "inet", "someone-else");
        var fourth = applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]).GetAwaiter().GetResult();
        Assert.Equal(2, fourth.ProcessLaunches);
        Assert.Contains("table inet someone-else", lab.Ruleset(), StringComparison.Ordinal); // and never touched
        applier.RemoveAsync([vm0.PortDevice, vm1.PortDevice]).GetAwaiter().GetResult();
        Assert.DoesNotContain("nwfilter", lab.Ruleset(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ItAnswersTheBridgeNetfilterProbeAndPortChecksInTheNamespaceWithoutAProcess()
    {
        Requirement.Require("libnftables", LibNftablesRunner.IsAvailable, "libnftables.so.1 is not installed");
        using var lab = NftLab.Create(1);
        var recorder = new Recorder();
        using var held = new HeldNftablesContext(recorder, lab.Lab.HostNamespace);
        var expected = lab.Lab.RunInHostChecked("cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").StandardOutput;
        var result = held.RunAsync(new ProcessRequest("cat", "/proc/sys/net/bridge/bridge-nf-call-iptables", "/proc/sys/net/no-such-file")).GetAwaiter().GetResult();
        Assert.Equal(expected, result.StandardOutput);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cat: /proc/sys/net/no-such-file: No such file or directory", result.StandardError, StringComparison.Ordinal);
        Assert.Equal([lab.Vms[0].PortDevice], held.ExistingInterfacesAsync([lab.Vms[0].PortDevice, "no-such-port"]).GetAwaiter().GetResult()!);
        Assert.Empty(recorder.Requests); // nothing went to the process runner
        // Other programs do.
        held.RunAsync(new ProcessRequest("ebtables", "-t", "nat", "-L")).GetAwaiter().GetResult();
        Assert.Single(recorder.Requests);
    }

    private sealed class Recorder : IProcessRunner
    {
        public List<ProcessRequest> Requests { get; } = [];

        public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
        {
            Requests.Add(request);
            return Task.FromResult(new ProcessResult(request, 0, "", "", TimeSpan.Zero));
        }
    }
}
