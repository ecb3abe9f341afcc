using System.Diagnostics;
using System.Text.RegularExpressions;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

/// <summary>
/// Our corpus of bad documents (tests/data/bad): each states what it expects in a leading comment,
/// <c>&lt;!-- expect: [mode=lenient] [count=N] code=C [element=E] [attribute=A] [value=V|value='V w'] --&gt;</c>,
/// and must be refused with an error matching every field given.
/// </summary>
public partial class BadDocumentTests
{
    public static TheoryData<string> Documents { get; } = new(
        Directory.GetFiles(Repository.TestData("bad"), "*.xml").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!);

    [Fact]
    public void ThereAreAtLeastOneHundredBadDocuments() =>
        Assert.True(Documents.Count >= 100, $"only {Documents.Count} bad documents");

    [Theory]
    [MemberData(nameof(Documents))]
    public void BadDocumentIsRefusedWithTheStatedDiagnostic(string name)
    {
        var text = File.ReadAllText(Repository.TestData("bad", name + ".xml"));
        var expect = ParseExpectation(text);
        var options = new XmlReadOptions { Lenient = expect.GetValueOrDefault("mode") == "lenient", SourceName = name };

        var ex = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadDocument(text, options));

        var errors = ex.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.NotEmpty(errors);
        Assert.All(ex.Diagnostics, d => Assert.Equal(name, d.Source));
        Assert.Contains(errors, d =>
            d.Code == expect["code"] &&
            (!expect.TryGetValue("element", out var e) || d.Element == e) &&
            (!expect.TryGetValue("attribute", out var a) || d.Attribute == a) &&
            (!expect.TryGetValue("value", out var v) || d.Value == v));
        if (expect.TryGetValue("count", out var count))
        {
            Assert.Equal(int.Parse(count), errors.Count);
        }
    }

    [Fact]
    public void EntityExpansionIsNeverAttempted()
    {
        var text = File.ReadAllText(Repository.TestData("bad", "dtd-billion-laughs.xml"));
        var watch = Stopwatch.StartNew();

        var ex = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadFilter(text));

        Assert.Equal(XmlDiagnosticCodes.DtdProhibited, ex.Primary.Code);
        Assert.True(watch.ElapsedMilliseconds < 2000);
    }

    [Fact]
    public void ExternalEntityFileIsNotRead()
    {
        var secret = Path.Combine(Path.GetTempPath(), $"nwfilter-xxe-{Guid.NewGuid():N}.txt");
        var marker = "MARKER" + Guid.NewGuid().ToString("N");
        File.WriteAllText(secret, marker);
        try
        {
            var xml = $"<!DOCTYPE filter [ <!ENTITY s SYSTEM \"file://{secret}\"> ]>\n<filter name='&s;'><rule action='accept' direction='in'><mac comment='&s;'/></rule></filter>\n";

            foreach (var options in new[] { XmlReadOptions.Strict, XmlReadOptions.LenientDefault })
            {
                var ex = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadDocument(xml, options));
                Assert.Equal(XmlDiagnosticCodes.DtdProhibited, ex.Primary.Code);
                Assert.DoesNotContain(marker, ex.Message);
                Assert.All(ex.Diagnostics, d => Assert.DoesNotContain(marker, d.ToString() + d.Value + d.Filter));
            }
        }
        finally
        {
            File.Delete(secret);
        }
    }

    private static Dictionary<string, string> ParseExpectation(string text)
    {
        var header = HeaderRegex().Match(text);
        Assert.True(header.Success, "the document must start with <!-- expect: ... -->");
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match m in FieldRegex().Matches(header.Groups[1].Value))
        {
            fields[m.Groups[1].Value] = m.Groups[3].Success ? m.Groups[3].Value : m.Groups[4].Value;
        }
        Assert.True(fields.ContainsKey("code"), "the expectation must name a code");
        return fields;
    }

    [GeneratedRegex(@"\A<!-- expect: (.*?) -->")]
    private static partial Regex HeaderRegex();

    [GeneratedRegex(@"(\w+)=('([^']*)'|(\S*))")]
    private static partial Regex FieldRegex();
}
