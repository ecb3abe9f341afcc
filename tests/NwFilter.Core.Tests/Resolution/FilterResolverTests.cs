using System.Net.NetworkInformation;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Resolution;

public class FilterResolverTests
{
    private static NwFilter.Core.Resolution.Resolution Resolve(FilterDefinition top, ParameterSet parameters, PhysicalAddress? mac = null, params FilterDefinition[] others) =>
        FilterResolver.Resolve(new InMemoryFilterSource(others), top, parameters, mac, TestValues.Options);

    private static NwFilterException Fails(FilterDefinition top, ParameterSet parameters, params FilterDefinition[] others) =>
        Assert.Throws<NwFilterException>(() => Resolve(top, parameters, null, others));

    private static string Value(RuleInstance instance, AttributeId id) => instance.Rule[id].Literal!.Text;

    [Fact]
    public void CallerVariablesWinOverFilterrefParameters()
    {
        var child = Filter("child", Rule(Accept, Out, Ip, ("srcipaddr", "$IP")));
        var top = Filter("top", Ref("child", ("IP", "10.0.0.9")));

        Assert.Equal("10.0.0.9", Value(Resolve(top, ParameterSet.Empty, null, child).Instances.Single(), AttributeId.SrcIpAddr));
        Assert.Equal("10.0.0.1", Value(Resolve(top, Params(("IP", "10.0.0.1")), null, child).Instances.Single(), AttributeId.SrcIpAddr));
    }

    [Fact]
    public void NestedFilterrefParametersReachDeeperFilters()
    {
        var leaf = Filter("leaf", Rule(Accept, Out, Ip, ("srcipaddr", "$X")));
        var middle = Filter("middle", Ref("leaf", ("X", "1.1.1.1")));
        var top = Filter("top", Ref("middle", ("X", "2.2.2.2")));
        // The middle filter's table holds X=2.2.2.2 (from above), which wins over its own parameter to leaf.
        Assert.Equal("2.2.2.2", Value(Resolve(top, ParameterSet.Empty, null, middle, leaf).Instances.Single(), AttributeId.SrcIpAddr));
    }

    [Fact]
    public void MacDefaultsToTheBindingsMacUnlessGiven()
    {
        var top = Filter("top", Rule(Drop, Out, Mac, ("srcmacaddr", "!$MAC")));
        var mac = PhysicalAddress.Parse("52-54-00-AB-CD-EF");
        Assert.Equal("52:54:00:ab:cd:ef", Value(Resolve(top, ParameterSet.Empty, mac).Instances.Single(), AttributeId.SrcMacAddr));
        Assert.Equal("52:54:00:00:00:01", Value(Resolve(top, Params(("MAC", "52:54:00:00:00:01")), mac).Instances.Single(), AttributeId.SrcMacAddr));
        Assert.True(Resolve(top, ParameterSet.Empty, mac).Instances.Single().Rule[AttributeId.SrcMacAddr].Negated);
    }

    [Fact]
    public void InstancesAreOrderedRootFirstThenByPriorityStably()
    {
        var arp = Filter("arp-f", "arp", -500, Rule(Accept, Out, Arp, 100), Rule(Drop, Out, Arp, -900));
        var top = Filter("top",
            Rule(Accept, In, All, 700),
            Ref("arp-f"),
            Rule(Drop, InOut, None, 1000),
            Rule(Accept, Out, Tcp, 700, ("dstportstart", "22")));
        var order = Resolve(top, ParameterSet.Empty, null, arp).Instances
            .Select(i => $"{i.ChainSuffix}:{i.RulePriority}:{i.Rule.Protocol}").ToList();
        Assert.Equal(["root:700:All", "root:700:Tcp", "root:1000:None", "arp:-900:Arp", "arp:100:Arp"], order);
    }

    [Fact]
    public void EffectivePriorityIsRaisedToTheChainPriorityOutsideRoot()
    {
        var arp = Filter("arp-f", "arp", -500, Rule(Accept, Out, Arp, -900), Rule(Accept, Out, Arp, 100));
        var instances = Resolve(Filter("top", Ref("arp-f")), ParameterSet.Empty, null, arp).Instances;
        Assert.Equal([-500, 100], instances.Select(i => i.EffectivePriority));
        Assert.Equal([-900, 100], instances.Select(i => i.RulePriority));
    }

    [Fact]
    public void CombinationsBecomeAdjacentInstancesWithTheirBindings()
    {
        var top = Filter("top", Rule(Accept, Out, Tcp, ("srcipaddr", "$A"), ("srcportstart", "$B")));
        var instances = Resolve(top, Params(("A", "1.1.1.1"), ("A", "2.2.2.2"), ("B", "80"), ("B", "90"))).Instances;
        Assert.Equal(2, instances.Length);
        Assert.Equal(["$A=1.1.1.1", "$B=80"], instances[0].Bindings.Select(b => b.ToString()));
        Assert.Equal([0, 1], instances.Select(i => i.Combination));
        Assert.All(instances, i => Assert.Equal(2, i.CombinationCount));
        Assert.All(instances, i => Assert.All(i.Rule.Attributes, a => Assert.Equal(AttributeValueKind.Literal, a.Value.Kind)));
    }

    [Fact]
    public void SubstitutedValuesAreCanonicalised()
    {
        var top = Filter("top", Rule(Accept, Out, Ip, ("srcmacaddr", "$M"), ("dstipmask", "$K"), ("dstipaddr", "10.0.0.0")));
        var instance = Resolve(top, Params(("M", "A:B:C:D:E:F"), ("K", "255.255.255.0"))).Instances.Single();
        Assert.Equal("0a:0b:0c:0d:0e:0f", Value(instance, AttributeId.SrcMacAddr));
        Assert.Equal(24UL, instance.Rule[AttributeId.DstIpMask].Literal!.Number);
    }

    [Theory]
    [InlineData("1.2.3.4 -j ACCEPT")]
    [InlineData("1.2.3.4;reboot")]
    [InlineData("$(reboot)")]
    [InlineData("`id`")]
    [InlineData("10.0.0.300")]
    [InlineData("")]
    public void ValuesThatAreNotValidForTheAttributeAreRefused(string ip)
    {
        var top = Filter("no-ip-spoofing", Rule(Return, Out, Ip, ("srcipaddr", "$IP")));
        var error = Fails(top, Params(("IP", ip)));
        var diagnostic = Assert.Single(error.Diagnostics);
        Assert.Equal(FilterResolver.InvalidVariableValueCode, diagnostic.Code);
        Assert.Equal("srcipaddr", diagnostic.Attribute);
        Assert.Equal(ip, diagnostic.Value);
        Assert.Equal("no-ip-spoofing", diagnostic.Filter);
    }

    [Fact]
    public void EveryProblemIsReportedAtOnce()
    {
        var child = Filter("child", Rule(Accept, Out, Tcp, ("dstportstart", "$PORT")), Ref("gone-too"));
        var top = Filter("top",
            Ref("gone"),
            Ref("child"),
            Rule(Accept, Out, Ip, ("srcipaddr", "$IP"), ("dstipaddr", "$DST")),
            Rule(Accept, Out, Ip, ("srcipaddr", "$BAD")),
            Rule(Accept, Out, Tcp, ("srcipaddr", "$A"), ("srcportstart", "$B")));
        var error = Fails(top, Params(("PORT", "http"), ("BAD", "1.2.3.4 -j ACCEPT"), ("A", "1.1.1.1"), ("A", "2.2.2.2"), ("B", "80")), child);

        var codes = error.Diagnostics.Select(d => $"{d.Code}:{d.Value}").Order().ToList();
        Assert.Equal(
        [
            "FilterNotFound:gone",
            "FilterNotFound:gone-too",
            "InvalidVariableValue:1.2.3.4 -j ACCEPT",
            "InvalidVariableValue:http",
            "UnresolvedVariable:DST",
            "UnresolvedVariable:IP",
            "VariableCardinalityMismatch:",
        ], codes);
        Assert.Contains("7 problems", error.Message);
    }

    [Fact]
    public void OnlyIpMissingMeansTheAddressMustBeLearned()
    {
        var top = Filter("top", Rule(Accept, Out, Ip, ("srcipaddr", "$IP")), Rule(Drop, Out, Mac, ("srcmacaddr", "!$MAC")));
        var mac = PhysicalAddress.Parse("52-54-00-00-00-01");

        var learning = Resolve(top, ParameterSet.Empty, mac);
        Assert.Equal(ResolutionStatus.NeedsIpLearning, learning.Status);
        Assert.Equal(IpLearningMode.Any, learning.IpLearning);
        Assert.Empty(learning.Instances);

        var dhcp = Resolve(top, Params(("CTRL_IP_LEARNING", "DHCP")), mac);
        Assert.Equal((ResolutionStatus.NeedsIpLearning, IpLearningMode.Dhcp), (dhcp.Status, dhcp.IpLearning));
    }

    [Fact]
    public void MissingIpWithLearningNoneIsAnError()
    {
        var top = Filter("top", Rule(Accept, Out, Ip, ("srcipaddr", "$IP")));
        var error = Fails(top, Params(("CTRL_IP_LEARNING", "none")));
        var diagnostic = Assert.Single(error.Diagnostics);
        Assert.Equal(FilterResolver.UnresolvedVariableCode, diagnostic.Code);
        Assert.Contains("none", diagnostic.Message);
    }

    [Fact]
    public void AnInvalidLearningModeIsAnError()
    {
        var top = Filter("top", Rule(Accept, Out, Ip, ("srcipaddr", "$IP")));
        Assert.Equal(FilterResolver.InvalidIpLearningCode, Assert.Single(Fails(top, Params(("CTRL_IP_LEARNING", "sometimes"))).Diagnostics).Code);
    }

    [Fact]
    public void IpMissingWithAnotherVariableIsAnError()
    {
        var top = Filter("top", Rule(Accept, Out, Ip, ("srcipaddr", "$IP"), ("dstipaddr", "$GW")));
        Assert.Equal(2, Fails(top, ParameterSet.Empty).Diagnostics.Length);
    }

    [Fact]
    public void AnElementPastTheListEndIsUnavailable()
    {
        var top = Filter("top", Rule(Accept, Out, Ip, ("srcipaddr", "$A[2]")));
        var diagnostic = Assert.Single(Fails(top, Params(("A", "1.1.1.1"), ("A", "2.2.2.2"))).Diagnostics);
        Assert.Equal("A[2]", diagnostic.Value);
        Assert.Contains("2 value", diagnostic.Message);
    }

    [Fact]
    public void ReferenceCyclesAreReportedNotFollowed()
    {
        var a = Filter("a", Rule(Accept, Out, All), Ref("b"));
        var b = Filter("b", Ref("a"));
        var diagnostic = Assert.Single(Fails(a, ParameterSet.Empty, a, b).Diagnostics);
        Assert.Equal(FilterGraph.FilterLoopCode, diagnostic.Code);
        Assert.Contains("a -> b -> a", diagnostic.Message);
    }

    [Fact]
    public void AMissingTopFilterIsNotFound()
    {
        var error = Assert.Throws<NwFilterException>(() =>
            FilterResolver.Resolve(new InMemoryFilterSource(), "nothing", ParameterSet.Empty, null, TestValues.Options));
        Assert.Equal(DiagnosticCategory.ObjectNotFound, error.Primary.Category);
    }
}
