using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

public class XmlDocumentStreamTests
{
    [Fact]
    public void SplitCutsAStreamIntoItsDocuments()
    {
        var text = """
            <!-- virsh nwfilter-dumpxml a -->
            <filter name='a' chain='root'>
              <!-- a comment with </filter> inside -->
              <rule action='accept' direction='in' priority='500'/>
            </filter>

            <?xml version="1.0"?>
            <filter name='b' chain='root'/>
            <filter name="c"><rule action='drop' direction='out' priority='500'><all comment='x > y </filter>'/></rule></filter>
            """;
        var segments = XmlDocumentStream.Split(text).ToList();
        Assert.Equal(3, segments.Count);
        Assert.All(segments, s => Assert.Null(s.Error));
        Assert.Equal([2, 8, 9], segments.Select(s => s.Line));
        Assert.StartsWith("<filter name='a'", segments[0].Text, StringComparison.Ordinal);
        Assert.EndsWith("</filter>", segments[0].Text, StringComparison.Ordinal);
        Assert.Equal("<filter name='b' chain='root'/>", segments[1].Text);
        Assert.EndsWith("</rule></filter>", segments[2].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void SplitReportsTextBetweenDocumentsAndAnUnfinishedDocument()
    {
        var segments = XmlDocumentStream.Split("<filter name='a'/>\nerror: failed to get filter 'b'\n<filter name='c'>").ToList();
        Assert.Equal(3, segments.Count);
        Assert.Null(segments[0].Error);
        Assert.Contains("unexpected text", segments[1].Error);
        Assert.Equal(2, segments[1].Line);
        Assert.Contains("not complete", segments[2].Error);
    }

    [Fact]
    public void SingleDocumentIsHandedOverWhole()
    {
        var text = "<!-- header -->\n<filter name='a'/>\n";
        var segment = Assert.Single(XmlDocumentStream.Split(text));
        Assert.Equal(text, segment.Text);
    }
}
