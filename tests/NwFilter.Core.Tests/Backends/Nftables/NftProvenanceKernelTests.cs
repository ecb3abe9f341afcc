using NwFilter.Core.Backends;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>Bindings applied with nftables in a lab: every kernel rule of the port maps back to its rule instance.</summary>
[Collection(NetnsCollection.Name)]
public sealed class NftProvenanceKernelTests
{
    [SkippableFact]
    public void EveryKernelRuleOfABoundPortMapsBackToItsFilterAndPriority()
    {
        using var lab = BindingLab.Create(2, FirewallBackendKind.Nftables);
        var bindings = new[]
        {
            BindingLab.CleanTraffic(lab.Vms[0]),
            BindingLab.Binding(lab.Vms[1], "test-eth0", ("IP", lab.Vms[1].IPv4)),
        };
        lab.Apply(bindings);
        var kernel = NftProvenance.ReadRules(lab.Lab.RunInHostChecked("nft", "-j", "list", "ruleset").StandardOutput);

        foreach (var binding in bindings)
        {
            // The reader's side: compile the binding as the manager does, then map what the kernel lists.
            var ruleset = RulesetBuilder.Build(lab.Filters, binding.Filter, binding.PortDevice, binding.MacAddress, binding.Parameters, FirewallBackendKind.Nftables);
            var compiled = NftablesCompiler.Compile(binding.PortDevice, ruleset.Instances);
            var mapped = NftProvenance.Map(compiled, kernel);

            foreach (var chain in compiled.Chains)
            {
                var fromKernel = mapped.Where(m => m.Role == chain.Role).ToList();
                // Same rule instances in the same order as compiled; the rest are NwFilter's own jumps (and the mark rule).
                Assert.Equal(chain.Rules.Where(r => r.Origin is not null).Select(r => r.Origin!.Ordinal),
                             fromKernel.Where(m => m.Origin is not null).Select(m => m.Origin!.Ordinal));
                var own = chain.Rules.Count(r => r.Origin is null) + (chain.Role == NftPortRuleset.FromVm && compiled.HasInet ? 1 : 0);
                Assert.Equal(own, fromKernel.Count(m => m.Origin is null));
                Assert.All(fromKernel.Where(m => m.Origin is null), m => Assert.Null(m.Rule.Comment));
            }

            var origins = mapped.Where(m => m.Origin is not null).ToList();
            Assert.NotEmpty(origins);
            foreach (var m in origins)
            {
                // What the kernel's comment says by itself agrees with the instance it maps to.
                Assert.True(NftProvenance.TryParse(m.Rule.Comment, out var said));
                Assert.Equal((m.Origin!.FilterName, m.Origin.RulePriority), (said!.FilterName, said.RulePriority));
                Assert.Same(ruleset.Instances[m.Origin.Ordinal], m.Origin.Instance);
            }
            // Every rule instance that yields nft rules is found in the kernel.
            Assert.Equal(compiled.Chains.SelectMany(c => c.Rules).Where(r => r.Origin is not null).Select(r => r.Origin!.Ordinal).Distinct().Order(),
                         origins.Select(m => m.Origin!.Ordinal).Distinct().Order());
            Assert.Contains(origins, m => m.Origin!.FilterName == "no-mac-spoofing");
        }
        var testEth0 = NftProvenance.Map(NftablesCompiler.Compile(bindings[1].PortDevice,
            RulesetBuilder.Build(lab.Filters, bindings[1].Filter, bindings[1].PortDevice, bindings[1].MacAddress, bindings[1].Parameters, FirewallBackendKind.Nftables).Instances), kernel);
        Assert.Contains(testEth0, m => m.Role == NftPortRuleset.ForwardToVm && m.Origin?.FilterName == "test-eth0");
    }
}
