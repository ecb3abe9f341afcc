using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Tests.TestSupport;
using Xunit.Abstractions;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>One lab for the class: the kernel checks scripts in it; each test leaves its tables empty again.</summary>
public sealed class NftKernelFixture : IDisposable
{
    private readonly Lazy<NftLab> _lab = new(() => NftLab.Create(2));

    /// <summary>The lab, its NwFilter tables deleted (whatever an earlier test left) and the applier's known state forgotten.</summary>
    internal NftLab Lab
    {
        get
        {
            LabPrerequisites.Require();
            var lab = _lab.Value;
            foreach (var family in new[] { "bridge", "inet" })
            {
                lab.Lab.RunInHost("nft", "delete", "table", family, "nwfilter");
            }
            lab.Applier.Invalidate();
            return lab;
        }
    }

    public void Dispose()
    {
        if (_lab.IsValueCreated)
        {
            _lab.Value.Dispose();
        }
    }
}

/// <summary>
/// The kernel accepts what the compiler writes: for each of libvirt's 39 cases, the first-apply script passes
/// <c>nft -c</c>, and applying it, replacing it with the next generation and removing it all commit, leaving nothing.
/// What nft cannot express is refused before the kernel sees it, with a diagnostic (written to the test output).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class NftKernelCheckTests(NftKernelFixture fixture, ITestOutputHelper output) : IClassFixture<NftKernelFixture>
{
    [SkippableTheory]
    [MemberData(nameof(NftParityTests.CorpusCases), MemberType = typeof(NftParityTests))]
    public void EveryRepresentableLibvirtCaseIsAcceptedByTheKernelAndAppliesReplacesAndRemoves(string name)
    {
        Requirement.Require("corpus", name != "(corpus absent)", "libvirt's nwfilter corpus is absent");
        var lab = fixture.Lab;
        NftPortRuleset ruleset;
        try
        {
            ruleset = NftablesCompiler.Compile("vnet0", NftParityTests.CorpusInstances(name));
        }
        catch (NwFilterException e)
        {
            output.WriteLine($"{name}: not representable in nftables: [{e.Primary.Code}] {e.Primary.Message}");
            Assert.Equal(NftParityTests.Refused[name], e.Primary.Code);
            return;
        }

        var first = NftScriptPlanner.Plan(NftState.Empty, [NftPortChange.Set(ruleset)]);
        lab.Applier.CheckAsync(first).GetAwaiter().GetResult();
        Assert.True(lab.State().Ports.IsEmpty, "nft -c changes nothing");

        var applied = lab.Applier.ApplyAsync([NftPortChange.Set(ruleset)]).GetAwaiter().GetResult();
        Assert.Equal(first.Text, applied.Script.Text);
        var replaced = lab.Applier.ApplyAsync([NftPortChange.Set(ruleset)]).GetAwaiter().GetResult();
        Assert.Equal(2, replaced.Script.Ports.Single().Generation);
        var state = lab.State();
        Assert.Equal(2, state.Current("vnet0")!.Generation);
        Assert.Single(state.Ports["vnet0"]);

        lab.Applier.RemoveAsync(["vnet0"]).GetAwaiter().GetResult();
        Assert.DoesNotContain("nwfilter", lab.Ruleset(), StringComparison.Ordinal);
        output.WriteLine($"{name}: {first.Statements.Length} statements accepted, applied, replaced, removed");
    }

    [SkippableFact]
    public void AFailingLastStatementLeavesTheOldRulesAndTheErrorNamesTheStatement()
    {
        var lab = fixture.Lab;
        var vm0 = lab.Vms[0];
        lab.Apply(vm0, "test-eth0");
        var before = lab.Ruleset();
        var good = NftScriptPlanner.Plan(lab.State(), [NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]);
        var bad = good with { Statements = good.Statements.Add("delete chain bridge nwfilter no/1/1/I") };

        var e = Assert.Throws<NwFilterException>(() => lab.Applier.RunScriptAsync(bad, check: false).GetAwaiter().GetResult());
        Assert.Equal(NftablesCodes.NftFailed, e.Primary.Code);
        Assert.Equal(bad.Statements.Length, e.Primary.Line);
        Assert.Contains("delete chain bridge nwfilter no/1/1/I", e.Primary.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", e.Primary.Message, StringComparison.Ordinal);
        Assert.Equal(before, lab.Ruleset());

        lab.Remove(vm0);
        Assert.DoesNotContain("nwfilter", lab.Ruleset(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AnApplierWhoseKnownStateWentStaleReadsAgainAndStillCommitsTheRightThing()
    {
        var lab = fixture.Lab;
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        var mine = new NftablesApplier(Core.Host.ProcessRunner.Default, lab.Lab.HostNamespace);
        var first = mine.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "test-eth0"))]).GetAwaiter().GetResult();
        var second = mine.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm1, "test-eth0"))]).GetAwaiter().GetResult();
        Assert.Equal(1, second.ProcessLaunches); // no listing: the state after the first commit is known

        // Someone else replaces vm0 behind its back (generation 2): its next replace of vm0 plans generation 2 too and fails ...
        lab.Applier.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "clean-traffic"))]).GetAwaiter().GetResult();
        var third = mine.ApplyAsync([NftPortChange.Set(NftLab.Ruleset(vm0, "test-eth0"))]).GetAwaiter().GetResult();

        // ... then reads the state and commits generation 3, with vm0's id unchanged.
        Assert.True(third.Replanned);
        Assert.Equal(3, third.ProcessLaunches); // the failed attempt, the listing, the transaction
        var state = lab.State();
        Assert.Equal((first.Script.Ports[0].Id, 3), (state.Current("vnet0")!.Id, state.Current("vnet0")!.Generation));
        Assert.Single(state.Ports["vnet0"]);
        Assert.Contains("vnet0/1/3/FI", lab.Ruleset(), StringComparison.Ordinal);

        mine.RemoveAsync(["vnet0", "vnet1"]).GetAwaiter().GetResult();
        Assert.DoesNotContain("nwfilter", lab.Ruleset(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void RemovingOnePortLeavesNoneOfItsChainsAndTheLastTakesTheTables()
    {
        var lab = fixture.Lab;
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        var both = lab.Apply(NftLab.Ruleset(vm0, "test-eth0"), NftLab.Ruleset(vm1, "clean-traffic"));
        Assert.InRange(both.ProcessLaunches, 1, 2);
        Assert.Contains("vnet0/", lab.Ruleset(), StringComparison.Ordinal);

        lab.Remove(vm0);
        var ruleset = lab.Ruleset();
        Assert.DoesNotContain("vnet0", ruleset, StringComparison.Ordinal);
        Assert.Contains("vnet1/", ruleset, StringComparison.Ordinal);
        Assert.DoesNotContain("table inet nwfilter", ruleset, StringComparison.Ordinal); // vm1 has no layer-4 rules

        lab.Remove(vm1);
        Assert.DoesNotContain("nwfilter", lab.Ruleset(), StringComparison.Ordinal);
        Assert.True(lab.Applier.RemoveAsync(["vnet1"]).GetAwaiter().GetResult().Script.IsEmpty, "removing again does nothing");
    }
}
