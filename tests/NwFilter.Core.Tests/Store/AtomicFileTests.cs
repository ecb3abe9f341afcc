using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Store;

public class AtomicFileTests
{
    [Fact]
    public void WritesCompleteContentAndLeavesNoTemporaryFile()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("f.xml");
        AtomicFile.WriteAllText(path, "first");
        AtomicFile.WriteAllText(path, "second, longer");
        Assert.Equal("second, longer", File.ReadAllText(path));
        Assert.Equal(["f.xml"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public async Task ReadersNeverSeeATornFile()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("f.xml");
        var a = new string('a', 256 * 1024);
        var b = new string('b', 300 * 1024);
        AtomicFile.WriteAllText(path, a);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                AtomicFile.WriteAllText(path, i % 2 == 0 ? b : a);
            }
        });
        var reads = 0;
        while (!writer.IsCompleted)
        {
            var text = File.ReadAllText(path);
            Assert.True(text == a || text == b, $"torn read of {text.Length} characters");
            reads++;
        }
        await writer;
        Assert.True(reads > 0);
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void TemporaryFileNamesCannotBeFilterFiles()
    {
        Assert.True(AtomicFile.IsTempFile(".x.xml.abc.tmp"));
        Assert.Null(FilterNames.FromFileName(".x.xml.abc.tmp"));
    }
}
