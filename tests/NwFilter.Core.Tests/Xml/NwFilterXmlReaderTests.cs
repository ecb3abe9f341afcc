using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

public class NwFilterXmlReaderTests
{
    [Fact]
    public void StrictRefusesAnUnknownAttributeThatLenientAcceptsWithAWarning()
    {
        const string xml = "<filter name='f'><rule action='accept' direction='in'><tcp srcporttend='24' dstportstart='22'/></rule></filter>";

        var ex = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilter(xml));
        Assert.Equal(XmlDiagnosticCodes.UnknownAttribute, ex.Primary.Code);
        Assert.Equal(("tcp", "srcporttend", "24", "f"), (ex.Primary.Element, ex.Primary.Attribute, ex.Primary.Value, ex.Primary.Filter));

        var lenient = NwFilterXmlReader.ReadFilter(xml, XmlReadOptions.LenientDefault);
        var warning = Assert.Single(lenient.Warnings);
        Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
        Assert.Equal("22", lenient.Value.Rules.Single()[AttributeId.DstPortStart].Text);
    }

    [Fact]
    public void EveryErrorOfTheDocumentIsReportedAtOnceWithItsLine()
    {
        const string xml = "<filter name='f' chain='bad chain'>\n  <rule action='x' direction='in'/>\n  <rule action='drop' direction='y'>\n    <ip dscp='99'/>\n  </rule>\n</filter>\n";

        var ex = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilter(xml, new XmlReadOptions { SourceName = "f.xml" }));

        Assert.Equal(4, ex.Diagnostics.Length);
        Assert.Equal([1, 2, 3, 4], ex.Diagnostics.Select(d => d.Line!.Value).Order());
        Assert.All(ex.Diagnostics, d => Assert.Equal("f.xml", d.Source));
        Assert.Contains("4 problems", ex.Message);
    }

    [Fact]
    public void ChainDefaultsFollowThePrefixAndFilterPriorityIsIgnoredWithoutChain()
    {
        Assert.Equal(-500, NwFilterXmlReader.ReadFilter("<filter name='a' chain='arp-x'/>").Value.Priority);
        Assert.Equal(0, NwFilterXmlReader.ReadFilter("<filter name='a' chain='stp'/>").Value.Priority);
        Assert.Equal(-400, NwFilterXmlReader.ReadFilter("<filter name='a' chain='rarp'/>").Value.Priority);
        var rootOnly = NwFilterXmlReader.ReadFilter("<filter name='a' priority='-300'/>");
        Assert.Equal((FilterDefinition.RootChain, 0), (rootOnly.Value.Chain, rootOnly.Value.Priority));
        Assert.Single(rootOnly.Warnings);
    }

    [Fact]
    public void LenientRulePriorityOutOfRangeBecomes500AsInLibvirt()
    {
        const string xml = "<filter name='a'><rule action='drop' direction='in' priority='5000'/></filter>";

        Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilter(xml));
        Assert.Equal(500, NwFilterXmlReader.ReadFilter(xml, XmlReadOptions.LenientDefault).Value.Rules.Single().Priority);
    }

    [Fact]
    public void LenientSkipsBadParametersAsLibvirtDoes()
    {
        const string xml = "<filter name='a'><filterref filter='b'><parameter name='A' value='1'/><parameter name='B-' value='2'/><parameter name='C'/></filterref></filter>";

        var result = NwFilterXmlReader.ReadFilter(xml, XmlReadOptions.LenientDefault);

        Assert.Equal(["A"], result.Value.References.Single().Parameters.Keys);
        Assert.Equal(2, result.Warnings.Length);
    }

    [Fact]
    public void ReadDocumentDispatchesOnTheRootElement()
    {
        Assert.IsType<FilterDefinition>(NwFilterXmlReader.ReadDocument("<filter name='a'/>").Value);
        Assert.IsType<FilterBinding>(NwFilterXmlReader.ReadDocument(
            "<filterbinding><owner><name>v</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner><portdev name='p'/><mac address='1:2:3:4:5:6'/><filterref filter='f'/></filterbinding>").Value);
    }

    [Fact]
    public void FileOverloadNamesThePathInDiagnostics()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nwfilter-{Guid.NewGuid():N}.xml");
        File.WriteAllText(path, "<filter/>");
        try
        {
            var ex = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilterFile(path));
            Assert.Equal(path, ex.Primary.Source);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
