using NwFilter.Core.Model;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Tests.Schema;

public class ValueParserTests
{
    private static AttributeSpec Spec(ProtocolKind protocol, string name) => ProtocolSchema.Of(protocol).Find(name)!;

    [Theory]
    [InlineData(ProtocolKind.Tcp, "srcportstart", "22", "22", DataType.UInt16)]
    [InlineData(ProtocolKind.Tcp, "srcportstart", "0x16", "0x16", DataType.UInt16Hex)]
    [InlineData(ProtocolKind.Tcp, "srcportstart", "ff", "0xff", DataType.UInt16Hex)]
    [InlineData(ProtocolKind.Tcp, "srcportstart", " +22", "22", DataType.UInt16)]
    [InlineData(ProtocolKind.Tcp, "dscp", "63", "63", DataType.UInt8)]
    [InlineData(ProtocolKind.Stp, "root-cost", "4294967295", "4294967295", DataType.UInt32)]
    [InlineData(ProtocolKind.Mac, "protocolid", "ARP", "arp", DataType.String)]
    [InlineData(ProtocolKind.Mac, "protocolid", "0x0800", "ipv4", DataType.UInt16Hex)]
    [InlineData(ProtocolKind.Mac, "protocolid", "2048", "ipv4", DataType.UInt16)]
    [InlineData(ProtocolKind.Mac, "protocolid", "0x835", "0x835", DataType.UInt16Hex)]
    [InlineData(ProtocolKind.Arp, "opcode", "0x11", "17", DataType.UInt16Hex)]
    [InlineData(ProtocolKind.Arp, "opcode", "request", "Request", DataType.String)]
    [InlineData(ProtocolKind.Ip, "protocol", "17", "udp", DataType.UInt8)]
    [InlineData(ProtocolKind.Ip, "protocol", "99", "99", DataType.UInt8)]
    [InlineData(ProtocolKind.Mac, "srcmacaddr", "1:2:3:A:b:C", "01:02:03:0a:0b:0c", DataType.MacAddress)]
    [InlineData(ProtocolKind.Mac, "srcmacmask", "ff:ff:ff:ff:ff:f0", "ff:ff:ff:ff:ff:f0", DataType.MacMask)]
    [InlineData(ProtocolKind.Tcp, "srcipmask", "255.255.128.0", "17", DataType.IPv4Mask)]
    [InlineData(ProtocolKind.Tcp, "srcipmask", "0", "0", DataType.IPv4Mask)]
    [InlineData(ProtocolKind.TcpIpv6, "srcipmask", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:8000", "113", DataType.IPv6Mask)]
    [InlineData(ProtocolKind.TcpIpv6, "srcipaddr", "A:B:C:0:0:D:E:F", "a:b:c::d:e:f", DataType.IPv6Address)]
    [InlineData(ProtocolKind.TcpIpv6, "srcipaddr", "::FFFF:10.1.2.3", "::ffff:10.1.2.3", DataType.IPv6Address)]
    [InlineData(ProtocolKind.TcpIpv6, "srcipaddr", "::10.1.2.3", "::10.1.2.3", DataType.IPv6Address)]
    [InlineData(ProtocolKind.TcpIpv6, "srcipaddr", "1:0:0:1:0:0:0:1", "1:0:0:1::1", DataType.IPv6Address)]
    [InlineData(ProtocolKind.TcpIpv6, "srcipaddr", "1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0", DataType.IPv6Address)]
    [InlineData(ProtocolKind.TcpIpv6, "dstipto", "10.0.0.1", "10.0.0.1", DataType.IPv4Address)]
    [InlineData(ProtocolKind.Tcp, "state", "related,NEW", "NEW,RELATED", DataType.String)]
    [InlineData(ProtocolKind.Tcp, "state", "NEW,NONE", "NONE", DataType.String)]
    [InlineData(ProtocolKind.Tcp, "flags", "ack,syn/SYN", "SYN,ACK/SYN", DataType.String)]
    [InlineData(ProtocolKind.Tcp, "flags", "PSH/", "PSH/NONE", DataType.String)]
    [InlineData(ProtocolKind.Arp, "gratuitous", "yes", "true", DataType.Boolean)]
    [InlineData(ProtocolKind.Arp, "gratuitous", "TRUE", "false", DataType.Boolean)]
    [InlineData(ProtocolKind.All, "ipsetflags", "SRC,dSt", "src,dst", DataType.IpSetFlags)]
    [InlineData(ProtocolKind.All, "ipset", "a:b.c-d+e f_g", "a:b.c-d+e f_g", DataType.IpSetName)]
    public void LiteralParsesToItsCanonicalText(ProtocolKind protocol, string attribute, string text, string canonical, DataType type)
    {
        Assert.True(ValueParser.TryParse(Spec(protocol, attribute), text, out var value, out var error), error);
        Assert.Equal(canonical, value.Text);
        Assert.Equal(type, value.Type);
    }

    [Theory]
    [InlineData(ProtocolKind.Tcp, "dscp", "64", "the largest value allowed is 63")]
    [InlineData(ProtocolKind.Vlan, "vlanid", "4096", "the largest value allowed is 4095")]
    [InlineData(ProtocolKind.Mac, "protocolid", "15", "the smallest value allowed")]
    [InlineData(ProtocolKind.Tcp, "srcipaddr", "10.0.0.300", "not an IPv4 address")]
    [InlineData(ProtocolKind.Tcp, "srcipmask", "255.0.255.0", "not contiguous")]
    [InlineData(ProtocolKind.Mac, "srcmacmask", "0f:ff:ff:ff:ff:ff", "contiguous")]
    [InlineData(ProtocolKind.Tcp, "srcportstart", "65536", "greater than 65535")]
    public void BadLiteralIsRefusedWithLibvirtWordingAndAReason(ProtocolKind protocol, string attribute, string text, string reason)
    {
        Assert.False(ValueParser.TryParse(Spec(protocol, attribute), text, out _, out var error));
        Assert.StartsWith($"{attribute} has illegal value {text}", error);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void CommentIsTruncatedTo256Characters()
    {
        Assert.True(ValueParser.TryParse(Spec(ProtocolKind.Tcp, "comment"), new string('c', 300), out var value, out _));
        Assert.Equal(256, value.Text.Length);
    }

    [Theory]
    [InlineData("$IP", "IP", VariableAccessKind.Iterator, 0, "$IP")]
    [InlineData("$IP[@0]", "IP", VariableAccessKind.Iterator, 0, "$IP")]
    [InlineData("$IP[ @12 ]", "IP", VariableAccessKind.Iterator, 12, "$IP[@12]")]
    [InlineData("$IP[@1000]", "IP", VariableAccessKind.Iterator, 1000, "$IP[@1000]")]
    [InlineData("$B[  3 ] tail", "B", VariableAccessKind.Element, 3, "$B[3]")]
    public void VariableReferenceParsesWithLibvirtTolerance(string text, string name, VariableAccessKind kind, int index, string canonical)
    {
        Assert.True(ValueParser.TryParseVariable(text, out var access, out var error), error);
        Assert.Equal(new VariableAccess(name, kind, index), access);
        Assert.Equal(canonical, access.ToString());
    }

    [Theory]
    [InlineData("$", "Malformatted variable")]
    [InlineData("$1x?", "Malformatted variable")]
    [InlineData("$V[@1001]", "Iterator ID exceeds maximum ID of 1000")]
    [InlineData("$V[x]", "Malformatted array index")]
    [InlineData("$V[@x]", "Malformatted iterator id")]
    [InlineData("$V[", "Malformatted array index")]
    public void MalformedVariableReferenceIsRefused(string text, string message)
    {
        Assert.False(ValueParser.TryParseVariable(text, out _, out var error));
        Assert.StartsWith(message, error);
    }

    [Theory]
    [InlineData("1.2.3")]
    [InlineData("167772161")]
    [InlineData("01.2.3.4")]
    [InlineData("1.2.3.4 ")]
    [InlineData("0x1.2.3.4")]
    public void IPv4FormsTheCLibraryWouldTakeAreRefused(string text) =>
        Assert.False(TextParsers.TryParseIPv4(text, out _));

    [Theory]
    [InlineData("fe80::1%eth0")]
    [InlineData("[::1]")]
    [InlineData(" ::1")]
    [InlineData("::1/128")]
    public void IPv6FormsLibvirtWouldNotTakeAreRefused(string text) =>
        Assert.False(TextParsers.TryParseIPv6(text, out _));
}
