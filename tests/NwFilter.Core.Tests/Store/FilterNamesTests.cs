using NwFilter.Core.Diagnostics;
using NwFilter.Core.Store;

namespace NwFilter.Core.Tests.Store;

public class FilterNamesTests
{
    [Theory]
    [InlineData("clean-traffic")]
    [InlineData("a")]
    [InlineData("my_filter.v2:test")]
    [InlineData("name with spaces")]
    [InlineData("ünïcödé")]
    [InlineData("a..b")]
    public void AcceptsOrdinaryNames(string name) => Assert.Null(FilterNames.Check(name));

    [Theory]
    [InlineData("", "empty")]
    [InlineData(".", "start with '.'")]
    [InlineData("..", "start with '.'")]
    [InlineData(".hidden", "start with '.'")]
    [InlineData("../etc/passwd", "start with '.'")]
    [InlineData("a/b", "'/'")]
    [InlineData("a\\b", "'\\'")]
    [InlineData("a\0b", "NUL")]
    [InlineData("a\nb", "control characters")]
    [InlineData("a\tb", "control characters")]
    [InlineData("a*", "wildcard")]
    [InlineData("a?", "wildcard")]
    [InlineData("a[1]", "wildcard")]
    public void RefusesNamesThatCouldEscapeOrHide(string name, string reason)
    {
        var d = FilterNames.Check(name);
        Assert.NotNull(d);
        Assert.Equal(StoreCodes.InvalidFilterName, d.Code);
        Assert.Equal(DiagnosticCategory.InvalidArgument, d.Category);
        Assert.Contains(reason, d.Message);
    }

    [Fact]
    public void RefusesNull() => Assert.NotNull(FilterNames.Check(null));

    [Fact]
    public void LimitIsTwoHundredUtf8Bytes()
    {
        Assert.Null(FilterNames.Check(new string('a', 200)));
        Assert.Contains("200 bytes", FilterNames.Check(new string('a', 201))!.Message);
        Assert.NotNull(FilterNames.Check(new string('é', 101))); // 202 bytes
    }

    [Fact]
    public void FileNamesRoundTrip()
    {
        Assert.Equal("x.xml", FilterNames.FileName("x"));
        Assert.Equal("x", FilterNames.FromFileName("x.xml"));
        Assert.Null(FilterNames.FromFileName(".lock"));
        Assert.Null(FilterNames.FromFileName(".x.xml.0123.tmp"));
        Assert.Null(FilterNames.FromFileName("x.txt"));
        Assert.Throws<NwFilterException>(() => FilterNames.FileName("../x"));
    }
}
