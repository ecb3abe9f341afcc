using System.Buffers.Binary;
using System.Text;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Backends.Nftables.Kernel;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;
using static NwFilter.Core.Model.ProtocolKind;
using static NwFilter.Core.Model.RuleAction;
using static NwFilter.Core.Model.RuleDirection;
using static NwFilter.Core.Tests.TestSupport.Build;

namespace NwFilter.Core.Tests.Apply;

/// <summary>The pure parts of per-rule counters: the setting, the binding XML, the nft statements, the listings read back, the netlink messages.</summary>
public sealed class RuleCountersTests : IDisposable
{
    private readonly TempDirectory _dir = new("nwfilter-counters-setting");

    public void Dispose() => _dir.Dispose();

    private const string Head =
        "<filterbinding>\n  <owner>\n    <name>memtest</name>\n    <uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid>\n  </owner>\n" +
        "  <portdev name='vnet0'/>\n  <mac address='52:54:00:7b:35:93'/>\n  <filterref filter='clean-traffic'/>\n";

    [Theory]
    [InlineData("yes", true)]
    [InlineData("no", false)]
    public void TheCountersElementIsReadAndWrittenBackByteForByte(string enabled, bool expected)
    {
        var xml = Head + "  <backend name='nftables'/>\n  <nwfilter:counters xmlns:nwfilter='https://nwfilter.dev/xmlns/binding/1' enabled='" + enabled + "'/>\n</filterbinding>\n";
        var binding = NwFilterXmlReader.ReadBinding(xml).Value;
        Assert.Equal(expected, binding.Counters);
        Assert.Equal(xml, NwFilterXmlWriter.Write(binding));
    }

    [Fact]
    public void ABindingWithoutTheElementFollowsTheDefaultAndWritesNothing()
    {
        var binding = NwFilterXmlReader.ReadBinding(Head + "</filterbinding>\n").Value;
        Assert.Null(binding.Counters);
        Assert.Equal(Head + "</filterbinding>\n", NwFilterXmlWriter.Write(binding));
    }

    [Theory]
    [InlineData("<nwfilter:counters xmlns:nwfilter='https://nwfilter.dev/xmlns/binding/1' enabled='maybe'/>", "enabled", "maybe")]
    [InlineData("<nwfilter:counters xmlns:nwfilter='urn:other' enabled='yes'/>", "xmlns:nwfilter", "urn:other")]
    public void ABadCountersElementIsRefusedNamingTheAttribute(string element, string attribute, string value)
    {
        var e = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadBinding(Head + "  " + element + "\n</filterbinding>\n"));
        var d = Assert.Single(e.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(XmlDiagnosticCodes.InvalidAttributeValue, d.Code);
        Assert.Equal(value, d.Value);
        Assert.Contains(attribute, d.Message, StringComparison.Ordinal);
    }

    private static Func<string, string?> Env(string? value) => name => name == BackendSelection.CountersVariable ? value : null;

    [Fact]
    public void TheCountersSettingComesFromTheFileBesideTheBackendAndTheEnvironmentWins()
    {
        Assert.False(BackendSelection.ReadCountersSetting(_dir.Path, Env(null)).Counters);
        File.WriteAllText(Path.Combine(_dir.Path, BackendSelection.ConfigFileName), "backend = nftables\ncounters = on # per-rule counters\n");

        var (fromFile, source) = BackendSelection.ReadCountersSetting(_dir.Path, Env(null));
        Assert.True(fromFile);
        Assert.EndsWith("nwfilter.conf:2 (counters = on)", source, StringComparison.Ordinal);
        Assert.False(BackendSelection.ReadCountersSetting(_dir.Path, Env("off")).Counters);
        // The backend setting reads the same file and is not disturbed by the counters line.
        Assert.Equal(BackendPreference.Nftables, BackendSelection.ReadSetting(_dir.Path, _ => null).Preference);
    }

    [Fact]
    public void ACountersValueThatIsNotOnOrOffIsRefusedWithTheFileAndLine()
    {
        File.WriteAllText(Path.Combine(_dir.Path, BackendSelection.ConfigFileName), "# x\ncounters = sometimes\n");
        var e = Assert.Throws<NwFilterException>(() => BackendSelection.ReadCountersSetting(_dir.Path, Env(null)));
        Assert.Equal(BackendSelection.BackendSettingInvalid, e.Diagnostics[0].Code);
        Assert.Contains("nwfilter.conf:2: 'sometimes' is not a counters setting", e.Diagnostics[0].Message, StringComparison.Ordinal);
        var env = Assert.Throws<NwFilterException>(() => BackendSelection.ReadCountersSetting(_dir.Path, Env("lots")));
        Assert.Contains("NWFILTER_COUNTERS='lots'", env.Diagnostics[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithCountersEveryRuleOfARuleInstanceCountsAndNwFiltersOwnRulesDoNot()
    {
        var resolution = FilterResolver.Resolve(new InMemoryFilterSource(NwFilter.Core.BuiltIn.BuiltInFilters.All), "clean-traffic", Params(("IP", "10.0.0.5")),
            System.Net.NetworkInformation.PhysicalAddress.Parse("52-54-00-7B-35-93"));
        var plain = NftablesCompiler.Compile("vnet0", resolution.Instances);
        var counted = NftablesCompiler.WithCounters(plain);

        var pairs = plain.Chains.SelectMany(c => c.Rules).Zip(counted.Chains.SelectMany(c => c.Rules)).ToList();
        Assert.Contains(pairs, p => p.First.Origin is null); // the jumps into the sub-chains
        foreach (var (before, after) in pairs)
        {
            var text = after.ToText(r => r);
            if (before.Origin is null)
            {
                Assert.Equal(before.ToText(r => r), text);
                continue;
            }
            // "MATCH counter VERDICT comment ...": the counter sits just before the verdict.
            var plainText = before.ToText(r => r);
            Assert.StartsWith(before.Match, plainText, StringComparison.Ordinal);
            var verdict = plainText[before.Match.Length..].Trim();
            Assert.Equal(string.Join(' ', new[] { before.Match, "counter", verdict }.Where(p => p.Length > 0)), text);
        }
    }

    [Fact]
    public void TheDriftFootprintIgnoresCounterValues()
    {
        var normalize = NftFootprint.Normalizer("vnet0", [(3, 1)]);
        Assert.Equal(normalize("ip saddr 10.0.0.9 counter packets 0 bytes 0 drop comment \"nwf:1 500 f\""),
            normalize("ip saddr 10.0.0.9 counter packets 1234 bytes 99999 drop comment \"nwf:1 500 f\""));
        Assert.Equal("ip saddr 10.0.0.9 counter drop", normalize("ip saddr 10.0.0.9 counter packets 7 bytes 700 drop"));
    }

    [Fact]
    public void NftJsonCountersAreReadPerRule()
    {
        const string json = """
            {"nftables": [{"metainfo": {"version": "1.0.6"}},
             {"rule": {"family": "bridge", "table": "nwfilter", "chain": "vnet0/1/1/I", "handle": 5, "comment": "nwf:0 500 f",
                       "expr": [{"match": {"op": "==", "left": {"meta": {"key": "protocol"}}, "right": "ip"}}, {"counter": {"packets": 3, "bytes": 252}}, {"drop": null}]}},
             {"rule": {"family": "bridge", "table": "nwfilter", "chain": "vnet0/1/1/I", "handle": 6, "expr": [{"jump": {"target": "x"}}]}}]}
            """;
        var rules = NftProvenance.ReadRules(json);
        Assert.Equal((3L, 252L), (rules[0].Packets!.Value, rules[0].Bytes!.Value));
        Assert.Null(rules[1].Packets);
    }

    [Fact]
    public void XtablesSaveCountersAreSplitFromTheListingByChainAndPosition()
    {
        const string save = "# Generated\n*nat\n:PREROUTING ACCEPT\n:I-vnet0-ipv4 ACCEPT\n[4:336] -A I-vnet0-ipv4 -p IPv4 --ip-src 10.0.0.5 -j RETURN\n" +
            "[2:168] -A I-vnet0-ipv4 -j DROP\n[9:9] -A PREROUTING -i vnet0 -j libvirt-I-vnet0\nCOMMIT\n";
        var (listing, counters) = XtablesCounters.Split(save);
        Assert.Contains("\n-A I-vnet0-ipv4 -p IPv4 --ip-src 10.0.0.5 -j RETURN\n-A I-vnet0-ipv4 -j DROP\n", listing, StringComparison.Ordinal);
        Assert.Equal((4L, 336L), counters[("I-vnet0-ipv4", 0)]);
        Assert.Equal((2L, 168L), counters[("I-vnet0-ipv4", 1)]);
        Assert.Equal((9L, 9L), counters[("PREROUTING", 0)]);
        Assert.Throws<FormatException>(() => XtablesCounters.Split("-A I-vnet0-ipv4 -j DROP\n"));
    }

    [Fact]
    public void TheResetRequestIsARuleDumpWithResetOfOneChain()
    {
        var message = NftCounterReset.Request(7, "nwfilter", "vnet0/1/1/I", 9);
        Assert.Equal(message.Length, (int)BinaryPrimitives.ReadUInt32LittleEndian(message));
        Assert.Equal((10 << 8) | 25, BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(4)));
        Assert.Equal(0x301, BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(6)));
        Assert.Equal(9u, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(8)));
        Assert.Equal(7, message[16]);
        Assert.Contains("nwfilter\0", Encoding.ASCII.GetString(message), StringComparison.Ordinal);
        Assert.Contains("vnet0/1/1/I\0", Encoding.ASCII.GetString(message), StringComparison.Ordinal);
    }

    [Fact]
    public void TheResetAnswerGivesEachRulesHandleAndCountersInOrderAndAnErrorNamesTheChain()
    {
        static byte[] Attr(int type, byte[] value)
        {
            var a = new byte[(4 + value.Length + 3) & ~3];
            BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)(4 + value.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(a.AsSpan(2), (ushort)type);
            value.CopyTo(a, 4);
            return a;
        }
        static byte[] U64(long v) { var b = new byte[8]; BinaryPrimitives.WriteInt64BigEndian(b, v); return b; }
        static byte[] Message(ushort type, byte[] body)
        {
            var m = new byte[20 + body.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)m.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4), type);
            body.CopyTo(m, 20);
            return m;
        }
        byte[] Rule(long handle, long packets, long bytes) => Message((10 << 8) | 6, [
            .. Attr(3, U64(handle)),
            .. Attr(0x8000 | 4, Attr(0x8000 | 1, [.. Attr(1, Encoding.ASCII.GetBytes("counter\0")), .. Attr(0x8000 | 2, [.. Attr(1, U64(bytes)), .. Attr(2, U64(packets))])])),
        ]);
        var done = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(done, 20);
        BinaryPrimitives.WriteUInt16LittleEndian(done.AsSpan(4), 3);

        var rules = new List<(long, long, long)>();
        Assert.False(NftCounterReset.Parse([.. Rule(5, 3, 252)], "c", rules));
        Assert.True(NftCounterReset.Parse([.. Rule(8, 0, 0), .. done], "c", rules));
        Assert.Equal([(5L, 3L, 252L), (8L, 0L, 0L)], rules);

        var error = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(error, 20);
        BinaryPrimitives.WriteUInt16LittleEndian(error.AsSpan(4), 2);
        BinaryPrimitives.WriteInt32LittleEndian(error.AsSpan(16), -2);
        var e = Assert.Throws<InvalidOperationException>(() => NftCounterReset.Parse(error, "vnet0/1/1/I", rules));
        Assert.Contains("vnet0/1/1/I", e.Message, StringComparison.Ordinal);
        Assert.Contains("no such chain", e.Message, StringComparison.Ordinal);
    }
}
