using NwFilter.Core.Diagnostics;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

/// <summary>
/// The deep-nesting crash of issue 11, as the fuzz harness (tests/NwFilter.Fuzz) generates it: 100,000 nested elements,
/// closed or not, in a filter or a binding, are refused (NestingTooDeep: docs/design/limits.md) instead of ending the
/// process with a stack overflow.
/// </summary>
public class XmlFuzzRegressionTests
{
    [Theory]
    [InlineData("<filter name='f'>", "<rule>", "")]
    [InlineData("<filter name='f'>", "<rule>", "</rule>")]
    [InlineData("<filterbinding>", "<owner>", "")]
    public void ADocumentNested100000DeepIsRefusedWithADiagnostic(string root, string open, string close)
    {
        var xml = root + string.Concat(Enumerable.Repeat(open, 100_000)) + string.Concat(Enumerable.Repeat(close, 100_000));

        var e = Assert.Throws<NwFilterException>(() => NwFilterXmlReader.ReadDocument(xml));

        Assert.Equal("NestingTooDeep", e.Primary.Code);
    }
}
