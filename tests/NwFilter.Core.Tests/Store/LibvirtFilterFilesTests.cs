using NwFilter.Core.BuiltIn;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Store;

public class LibvirtFilterFilesTests
{
    [SkippableFact]
    public void ReadsTheLiveDumpOfAllBuiltIns()
    {
        var dump = Corpus.Path("live-9.0", "00-all-builtin-filters.dumpxml.txt");
        var documents = LibvirtFilterFiles.ReadDocuments(File.ReadAllText(dump), dump);
        Assert.Equal(BuiltInFilters.LibvirtNames, documents.Select(d => d.Filter!.Name).Order(StringComparer.Ordinal));
        Assert.All(documents, d => Assert.NotNull(d.Filter!.Uuid));
    }

    [Fact]
    public void ExportThenImportADirectoryRoundTrips()
    {
        using var dir = new TempDirectory();
        var filters = BuiltInFilters.All.ToList();
        var written = LibvirtFilterFiles.WriteDirectory(dir.Path, filters);
        Assert.Equal(BuiltInFilters.Names.Length, written.Length);
        Assert.Equal(NwFilterXmlWriter.Write(filters[0]), File.ReadAllText(written[0]));

        var read = LibvirtFilterFiles.ReadDirectory(dir.Path);
        Assert.Equal(filters, read.Select(d => d.Filter!));
    }

    [Fact]
    public void DirectoryFileWhoseNameDoesNotMatchIsReported()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.Combine("x.xml"), "<filter name='y'/>");
        var doc = Assert.Single(LibvirtFilterFiles.ReadDirectory(dir.Path));
        Assert.False(doc.Succeeded);
        Assert.Equal(StoreCodes.FilterFileNameMismatch, doc.Diagnostics[0].Code);
    }

    [Fact]
    public void UnparsableDocumentIsReportedWithItsPlace()
    {
        var docs = LibvirtFilterFiles.ReadDocuments("<filter name='a'/>\n<filter name='b'><rule action='nope' direction='in'/></filter>\n", "dump.txt");
        Assert.Equal(2, docs.Length);
        Assert.True(docs[0].Succeeded);
        Assert.False(docs[1].Succeeded);
        Assert.Equal("dump.txt (document at line 2)", docs[1].Source);
        Assert.NotEmpty(docs[1].Diagnostics);
    }
}
