using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Tests.TestSupport;
using Xunit.Abstractions;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>One lab for the class: the kernel checks scripts in it; each test leaves its tables empty again.</summary>
public sealed class NftKernelFixture : IDisposable
{
    private readonly Lazy<NftLab> _lab = new(() => NftLab.Create(2));

    public NftLab Lab
    {
        get
        {
            LabPrerequisites.Require();
            return _lab.Value;
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
        Skip.If(name == "(corpus absent)", "libvirt's nwfilter corpus is absent");
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
    public void RemovingOnePortLeavesNoneOfItsChainsAndTheLastTakesTheTables()
    {
        var lab = fixture.Lab;
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        var both = lab.Apply(NftLab.Ruleset(vm0, "test-eth0"), NftLab.Ruleset(vm1, "clean-traffic"));
        Assert.Equal(2, both.ProcessLaunches);
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
