using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends.EbIpTables;

/// <summary>Bindings applied with ebtables/iptables in a lab: every kernel rule of the port maps back to the plan's command and rule instance.</summary>
[Collection(NetnsCollection.Name)]
public sealed class XtablesProvenanceKernelTests
{
    [SkippableFact]
    public void EveryKernelRuleOfABoundPortMapsBackToItsCommandFilterAndPriority()
    {
        using var lab = BindingLab.Create(2);
        var bindings = new[]
        {
            BindingLab.CleanTraffic(lab.Vms[0]),
            BindingLab.Binding(lab.Vms[1], "test-eth0", ("IP", lab.Vms[1].IPv4)),
        };
        lab.Apply(bindings);
        var saves = new[]
        {
            (FirewallCommand.Ebtables, lab.Lab.RunInHostChecked("ebtables-save", "-t", "nat").StandardOutput),
            (FirewallCommand.Iptables, lab.Lab.RunInHostChecked("iptables-save", "-t", "filter").StandardOutput),
        };

        foreach (var binding in bindings)
        {
            var ruleset = RulesetBuilder.Build(lab.Filters, binding.Filter, binding.PortDevice, binding.MacAddress, binding.Parameters);
            var planned = ruleset.Commands.Where(c => c.Origin is not null).ToList();
            var mapped = saves.SelectMany(s => XtablesProvenance.Map(ruleset.Commands, binding.PortDevice, s.Item1, s.Item2)).ToList();

            Assert.NotEmpty(mapped);
            Assert.All(mapped, m =>
            {
                Assert.NotNull(m.Command); // no kernel rule of the port that the plan did not make
                // The kernel rule has the planned target (a jump into a sub-chain under its final name).
                var target = m.Command!.Arguments[m.Command.Arguments.IndexOf("-j") + 1];
                Assert.EndsWith(" -j " + (XtablesProvenance.FinalName(target, binding.PortDevice) ?? target), m.Line, StringComparison.Ordinal);
            });
            // Every planned rule of a rule instance is found in the kernel, once.
            var found = mapped.Where(m => m.Origin is not null).Select(m => m.Command!).ToList();
            Assert.Equal(planned.Count, found.Count);
            Assert.All(planned, c => Assert.Contains(found, f => ReferenceEquals(f, c)));
            Assert.Contains(mapped, m => m.Origin?.FilterName == "no-mac-spoofing" && m.Chain == $"I-{binding.PortDevice}-mac");
        }
        var l4 = XtablesProvenance.Map(RulesetBuilder.Build(lab.Filters, bindings[1].Filter, bindings[1].PortDevice, bindings[1].MacAddress, bindings[1].Parameters).Commands,
            bindings[1].PortDevice, FirewallCommand.Iptables, saves[1].Item2);
        Assert.Contains(l4, m => m.Chain == $"FO-{bindings[1].PortDevice}" && m.Origin?.FilterName == "test-eth0");
    }
}
