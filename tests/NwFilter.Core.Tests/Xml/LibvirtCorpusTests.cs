using NwFilter.Core.Diagnostics;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

/// <summary>
/// libvirt's own xml2xml, binding and built-in corpora, read in place (never copied). Skipped with a reason when the
/// corpus is absent.
/// </summary>
public class LibvirtCorpusTests
{
    /// <summary>The 21 cases that parse (tests/nwfilterxml2xmltest.c), in DO_TEST order.</summary>
    public static TheoryData<string> ParseCases { get; } = new()
    {
        "stp-test", "igmp-test", "udplite-test", "esp-test", "ah-test", "all-test",
        "ref-test", "ref-rule-test", "ipt-no-macspoof-test", "icmp-direction-test", "icmp-direction2-test",
        "icmp-direction3-test", "conntrack-test", "example-1", "example-2", "quirks-invalid",
        "attr-value-test", "iter-test1", "iter-test2", "iter-test3", "ipset-test",
    };

    /// <summary>
    /// The 21 expect-error cases, each with one error it must report: the element, the attribute and the value.
    /// </summary>
    public static TheoryData<string, string, string, string> ErrorCases { get; } = new()
    {
        { "mac-test-invalid", "mac", "protocolid", "15" },
        { "vlan-test-invalid", "vlan", "vlanid", "0xffff" },
        { "arp-test-invalid", "arp", "hwtype", "65536" },
        { "rarp-test-invalid", "rarp", "opcode", "65536" },
        { "ip-test-invalid", "ip", "dscp", "64" },
        { "ipv6-test-invalid", "ipv6", "dstportend", "65536" },
        { "tcp-test-invalid", "tcp", "dstportend", "65536" },
        { "udp-test-invalid", "udp", "dstportend", "65536" },
        { "icmp-test-invalid", "icmp", "type", "256" },
        { "sctp-test-invalid", "sctp", "dstportend", "65536" },
        { "tcp-ipv6-test-invalid", "tcp-ipv6", "srcipmask", "129" },
        { "udp-ipv6-test-invalid", "udp-ipv6", "srcipaddr", "a:b:c" },
        { "icmpv6-test-invalid", "icmpv6", "srcipmask", "129" },
        { "sctp-ipv6-test-invalid", "sctp-ipv6", "srcipmask", "129" },
        { "udplite-ipv6-test-invalid", "udplite-ipv6", "srcipmask", "129" },
        { "esp-ipv6-test-invalid", "esp-ipv6", "srcipmask", "129" },
        { "ah-ipv6-test-invalid", "ah-ipv6", "srcipmask", "129" },
        { "all-ipv6-test-invalid", "all-ipv6", "srcipmask", "129" },
        { "hex-data-test-invalid", "tcp-ipv6", "dscp", "0x40" },
        { "comment-test-invalid", "tcp-ipv6", "dscp", "0x40" },
        { "chain_prefixtest1-invalid", "arp", "hwtype", "65536" },
    };

    public static TheoryData<string> BindingCases { get; } = new() { "simple", "filter-vars" };

    public static TheoryData<string> BuiltIns { get; } = new()
    {
        "allow-arp", "allow-dhcp-server", "allow-dhcp", "allow-dhcpv6-server", "allow-dhcpv6", "allow-incoming-ipv4",
        "allow-incoming-ipv6", "allow-ipv4", "allow-ipv6", "clean-traffic-gateway", "clean-traffic",
        "no-arp-ip-spoofing", "no-arp-mac-spoofing", "no-arp-spoofing", "no-ip-multicast", "no-ip-spoofing",
        "no-ipv6-multicast", "no-ipv6-spoofing", "no-mac-broadcast", "no-mac-spoofing", "no-other-l2-traffic",
        "no-other-rarp-traffic", "qemu-announce-self-rarp", "qemu-announce-self",
    };

    [SkippableTheory]
    [MemberData(nameof(ParseCases))]
    public void ParseCaseRoundTripsToTheExpectedOutputByteForByte(string name)
    {
        var input = File.ReadAllText(Corpus.Path("tests", "nwfilterxml2xmlin", name + ".xml"));
        var expected = File.ReadAllText(Corpus.Path("tests", "nwfilterxml2xmlout", name + ".xml"));

        var filter = NwFilterXmlReader.ReadFilter(input, XmlReadOptions.LenientDefault with { SourceName = name }).Value;

        Assert.Equal(expected, NwFilterXmlWriter.Write(filter));
    }

    [SkippableTheory]
    [MemberData(nameof(ErrorCases))]
    public void ExpectErrorCaseIsRefusedNamingElementAttributeAndValue(string name, string element, string attribute, string value)
    {
        var input = File.ReadAllText(Corpus.Path("tests", "nwfilterxml2xmlin", name + ".xml"));

        foreach (var options in new[] { XmlReadOptions.LenientDefault, XmlReadOptions.Strict })
        {
            var ex = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilter(input, options with { SourceName = name }));
            Assert.Contains(ex.Diagnostics, d =>
                d.Severity == DiagnosticSeverity.Error && d.Element == element && d.Attribute == attribute && d.Value == value &&
                d.Source == name && d.Filter == "testcase" && d.Line > 0);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(BindingCases))]
    public void BindingRoundTripsByteForByte(string name)
    {
        var input = File.ReadAllText(Corpus.Path("tests", "virnwfilterbindingxml2xmldata", name + ".xml"));

        var binding = NwFilterXmlReader.ReadBinding(input).Value;

        Assert.Equal(input, NwFilterXmlWriter.Write(binding));
    }

    [SkippableTheory]
    [MemberData(nameof(BuiltIns))]
    public void BuiltInParsesStrictAndLenientAndRoundTripsStably(string name)
    {
        var input = File.ReadAllText(Corpus.Path("src", "nwfilter", "xml", name + ".xml"));

        var strict = NwFilterXmlReader.ReadFilter(input).Value;
        var lenient = NwFilterXmlReader.ReadFilter(input, XmlReadOptions.LenientDefault).Value;
        Assert.Equal(strict, lenient);
        Assert.Equal(name, strict.Name);

        var once = NwFilterXmlWriter.Write(strict);
        var twice = NwFilterXmlWriter.Write(NwFilterXmlReader.ReadFilter(once).Value);
        Assert.Equal(once, twice);
    }

    /// <summary>
    /// libvirt 9.0's <c>virsh nwfilter-dumpxml</c> of every built-in (live-9.0), compared with our output once the
    /// daemon's UUID is given to the filter.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(BuiltIns))]
    public void BuiltInWritesAsLibvirtDumpsIt(string name)
    {
        Skip.If(name == "clean-traffic-gateway",
            "libvirt 9.0 shipped an older clean-traffic-gateway (its last filterref is qemu-announce-self, not qemu-announce-self-rarp)");
        var input = File.ReadAllText(Corpus.Path("src", "nwfilter", "xml", name + ".xml"));
        var dump = File.ReadAllText(Corpus.Path("live-9.0", "00-all-builtin-filters.dumpxml.txt"));
        var marker = $"<!-- virsh nwfilter-dumpxml {name} -->\n";
        var start = dump.IndexOf(marker, StringComparison.Ordinal);
        Skip.If(start < 0, $"{name} is not in the live dump");
        start += marker.Length;
        var end = dump.IndexOf("</filter>\n", start, StringComparison.Ordinal) + "</filter>\n".Length;
        var expected = dump[start..end];
        var uuid = Guid.Parse(expected.Split("<uuid>")[1].Split("</uuid>")[0]);

        var filter = NwFilterXmlReader.ReadFilter(input).Value with { Uuid = uuid };

        Assert.Equal(expected, NwFilterXmlWriter.Write(filter));
    }
}
