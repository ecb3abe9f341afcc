using System.Net.NetworkInformation;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

public class NwFilterXmlWriterTests
{
    private static AttributeValue Literal(ProtocolKind p, string attr, string text, bool negated = false) =>
        AttributeValue.Of(ValueParser.Parse(ProtocolSchema.Of(p).Find(attr)!, text), negated);

    [Fact]
    public void AttributesArePrintedInTableOrderWithNegatedOnesInASecondElement()
    {
        var rule = new FilterRule(RuleAction.Drop, RuleDirection.In, ProtocolKind.Tcp)
        {
            // Deliberately not in table order.
            Attributes =
            [
                new(AttributeId.DstPortStart, Literal(ProtocolKind.Tcp, "dstportstart", "22", negated: true)),
                new(AttributeId.Comment, Literal(ProtocolKind.Tcp, "comment", "a<b")),
                new(AttributeId.SrcIpAddr, Literal(ProtocolKind.Tcp, "srcipaddr", "10.0.0.1", negated: true)),
                new(AttributeId.SrcMacAddr, AttributeValue.Of(new VariableAccess("MAC", VariableAccessKind.Element, 1))),
            ],
        };
        var filter = new FilterDefinition("w") { Entries = [rule] };

        Assert.Equal(
            "<filter name='w' chain='root'>\n" +
            "  <rule action='drop' direction='in' priority='500'>\n" +
            "    <tcp srcmacaddr='$MAC[1]' comment='a&lt;b'/>\n" +
            "    <tcp match='no' srcipaddr='10.0.0.1' dstportstart='22'/>\n" +
            "  </rule>\n" +
            "</filter>\n",
            NwFilterXmlWriter.Write(filter));
    }

    [Fact]
    public void FilterWithoutUuidHasNoUuidElementAndPriorityOnlyWhenNonZero()
    {
        var filter = new FilterDefinition("x") { Chain = "stp", Priority = 0, Entries = [new FilterRule(RuleAction.Accept, RuleDirection.InOut, ProtocolKind.None)] };

        Assert.Equal("<filter name='x' chain='stp'>\n  <rule action='accept' direction='inout' priority='500'/>\n</filter>\n", NwFilterXmlWriter.Write(filter));
    }

    [Fact]
    public void BindingIsWrittenInLibvirtsOrderWithSortedParameters()
    {
        var binding = new FilterBinding("vnet0", PhysicalAddress.Parse("52-54-00-AB-CD-EF"), "clean-traffic")
        {
            OwnerName = "vm<1>",
            OwnerUuid = Guid.Parse("d54df46f-1ab5-4a22-8618-4560ef5fac2c"),
            LinkDevice = "eth0",
            Parameters = ParameterSet.FromPairs([KeyValuePair.Create("MAC", "m"), KeyValuePair.Create("IP", "2"), KeyValuePair.Create("IP", "1")]),
        };

        Assert.Equal(
            "<filterbinding>\n  <owner>\n    <name>vm&lt;1&gt;</name>\n    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>\n  </owner>\n" +
            "  <portdev name='vnet0'/>\n  <linkdev name='eth0'/>\n  <mac address='52:54:00:ab:cd:ef'/>\n" +
            "  <filterref filter='clean-traffic'>\n    <parameter name='IP' value='2'/>\n    <parameter name='IP' value='1'/>\n" +
            "    <parameter name='MAC' value='m'/>\n  </filterref>\n</filterbinding>\n",
            NwFilterXmlWriter.Write(binding));
    }
}
