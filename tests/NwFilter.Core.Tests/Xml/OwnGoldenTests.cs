using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

/// <summary>
/// Our own goldens under tests/data/xml: each <c>NAME.xml</c> is read strictly and written; the output must equal
/// <c>NAME.out.xml</c> byte for byte, and be a fixed point. <see cref="Golden"/> compares them
/// (<c>NWFILTER_REGENERATE_GOLDENS=1</c> rewrites the ones that differ and fails the run for review).
/// </summary>
public class OwnGoldenTests
{
    public static TheoryData<string> Filters { get; } = Inputs("filters");

    public static TheoryData<string> Bindings { get; } = Inputs("bindings");

    [Theory]
    [MemberData(nameof(Filters))]
    public void FilterWritesAsExpectedAndIsAFixedPoint(string name)
    {
        var input = File.ReadAllText(Repository.TestData("xml", "filters", name + ".xml"));

        var result = NwFilterXmlReader.ReadFilter(input, new XmlReadOptions { SourceName = name });
        var written = NwFilterXmlWriter.Write(result.Value);

        Assert.Empty(result.Warnings.Where(w => w.Code != XmlDiagnosticCodes.InvalidAttributeValue));
        Golden.AssertMatches(Repository.TestData("xml", "filters", name + ".out.xml"), written);
        Assert.Equal(written, NwFilterXmlWriter.Write(NwFilterXmlReader.ReadFilter(written).Value));
    }

    [Fact]
    public void IpSetGivenAloneKeepsItsImpliedSrcFlagThroughAReread()
    {
        var filter = NwFilterXmlReader.ReadFilter("<filter name='f'><rule action='accept' direction='in'><tcp ipset='web'/></rule></filter>").Value;
        var rule = Assert.Single(filter.Rules);
        Assert.Equal("src", rule[Core.Model.AttributeId.IpSetFlags].Text);

        var written = NwFilterXmlWriter.Write(filter);
        Assert.Contains("<tcp ipset='web'/>", written);
        var again = Assert.Single(NwFilterXmlReader.ReadFilter(written).Value.Rules);
        Assert.Equal(rule, again);
    }

    [Fact]
    public void IpSetWithExplicitFlagsOnTcpIsRefusedStrictlyAndDroppedLikeLibvirtWhenLenient()
    {
        const string Xml = "<filter name='f'><rule action='accept' direction='in'><tcp ipset='web' ipsetflags='src,dst'/></rule></filter>";

        var e = Assert.Throws<Diagnostics.NwFilterException>(() => NwFilterXmlReader.ReadFilter(Xml));
        Assert.Equal(XmlDiagnosticCodes.IpSetDropped, e.Primary.Code);
        var lenient = NwFilterXmlReader.ReadFilter(Xml, XmlReadOptions.LenientDefault);
        Assert.Contains(lenient.Warnings, w => w.Code == XmlDiagnosticCodes.IpSetDropped);
        Assert.DoesNotContain("ipset", NwFilterXmlWriter.Write(lenient.Value));
    }

    [Theory]
    [MemberData(nameof(Bindings))]
    public void BindingWritesAsExpectedAndIsAFixedPoint(string name)
    {
        var input = File.ReadAllText(Repository.TestData("xml", "bindings", name + ".xml"));

        var binding = NwFilterXmlReader.ReadBinding(input).Value;
        var written = NwFilterXmlWriter.Write(binding);

        Golden.AssertMatches(Repository.TestData("xml", "bindings", name + ".out.xml"), written);
        var again = NwFilterXmlReader.ReadBinding(written).Value;
        Assert.Equal(written, NwFilterXmlWriter.Write(again));
    }

    [Fact]
    public void ThereIsAGoldenForEveryProtocol()
    {
        var all = string.Concat(Directory.GetFiles(Repository.TestData("xml", "filters"), "*.out.xml").Select(File.ReadAllText));
        foreach (var element in Core.Schema.ProtocolSchema.ByElementName.Keys)
        {
            Assert.Contains($"<{element} ", all.Replace($"<{element}/>", $"<{element} "));
        }
    }

    private static TheoryData<string> Inputs(string folder)
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Repository.TestData("xml", folder), "*.xml").Order(StringComparer.Ordinal))
        {
            if (!file.EndsWith(".out.xml", StringComparison.Ordinal))
            {
                data.Add(Path.GetFileNameWithoutExtension(file));
            }
        }
        return data;
    }
}
