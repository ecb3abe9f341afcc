using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

/// <summary>The binding's backend in its XML, as libvirt's unmerged nftables series writes it.</summary>
public class BindingBackendXmlTests
{
    private const string Head =
        "<filterbinding>\n  <owner>\n    <name>memtest</name>\n    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>\n  </owner>\n" +
        "  <portdev name='vnet0'/>\n  <mac address='52:54:00:7b:35:93'/>\n  <filterref filter='clean-traffic'/>\n";

    [Fact]
    public void NftablesIsReadAndWrittenBackByteForByte()
    {
        var xml = Head + "  <backend name='nftables'/>\n</filterbinding>\n";

        var binding = NwFilterXmlReader.ReadBinding(xml).Value;

        Assert.Equal(FirewallBackendKind.Nftables, binding.Backend);
        Assert.Equal(xml, NwFilterXmlWriter.Write(binding));
    }

    [Fact]
    public void IptablesIsTheDefaultAndIsNotWritten()
    {
        // libvirt's series sample (simple-backend.xml) names the default backend explicitly.
        var binding = NwFilterXmlReader.ReadBinding(Head + "  <backend name='iptables'/>\n</filterbinding>\n").Value;

        Assert.Equal(FirewallBackendKind.EbIpTables, binding.Backend);
        Assert.Equal(Head + "</filterbinding>\n", NwFilterXmlWriter.Write(binding));
    }

    [Fact]
    public void ABindingWithoutBackendUsesEbIpTables()
    {
        Assert.Equal(FirewallBackendKind.EbIpTables, NwFilterXmlReader.ReadBinding(Head + "</filterbinding>\n").Value.Backend);
        Assert.Equal(FirewallBackendKind.EbIpTables, new FilterBinding("vnet0", PhysicalAddress.Parse("52-54-00-7B-35-93"), "f").Backend);
    }

    [Fact]
    public void StrictReadingRefusesAnUnknownBackendName()
    {
        var e = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadBinding(Head + "  <backend name='pf'/>\n</filterbinding>\n"));

        var d = Assert.Single(e.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(XmlDiagnosticCodes.InvalidAttributeValue, d.Code);
        Assert.Equal("pf", d.Value);
        Assert.Contains("'iptables'", d.Message, StringComparison.Ordinal);
        Assert.Contains("'nftables'", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LenientReadingWarnsAboutAnUnknownBackendAndUsesTheDefault()
    {
        var result = NwFilterXmlReader.ReadBinding(Head + "  <backend name='pf'/>\n</filterbinding>\n", XmlReadOptions.LenientDefault);

        Assert.Equal(FirewallBackendKind.EbIpTables, result.Value.Backend);
        Assert.Contains(result.Warnings, w => w.Code == XmlDiagnosticCodes.InvalidAttributeValue);
    }

    [Fact]
    public void ABackendWithoutNameIsAnError()
    {
        var e = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadBinding(Head + "  <backend/>\n</filterbinding>\n"));

        Assert.Contains(e.Diagnostics, d => d.Code == XmlDiagnosticCodes.MissingAttribute && d.Attribute == "name");
    }
}
