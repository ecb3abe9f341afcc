using NwFilter.Core.Diagnostics;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Store;

public class StoreLockTests
{
    [Fact]
    public void SecondWriterWaitsThenTimesOutWithAClearDiagnostic()
    {
        using var dir = new TempDirectory();
        using (StoreLock.Acquire(dir.Path, TimeSpan.FromSeconds(1), default))
        {
            var e = Assert.Throws<NwFilterException>(() => StoreLock.Acquire(dir.Path, TimeSpan.FromMilliseconds(150), default));
            Assert.Equal(StoreCodes.StoreLockTimeout, e.Primary.Code);
            Assert.Equal(DiagnosticCategory.ResourceUnavailable, e.Primary.Category);
        }
        using (StoreLock.Acquire(dir.Path, TimeSpan.FromMilliseconds(150), default))
        {
        }
    }

    [Fact]
    public async Task WaitingWriterGetsTheLockWhenReleased()
    {
        using var dir = new TempDirectory();
        var first = StoreLock.Acquire(dir.Path, TimeSpan.FromSeconds(1), default);
        var waiting = Task.Run(() => StoreLock.Acquire(dir.Path, TimeSpan.FromSeconds(10), default));
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        first.Dispose();
        (await waiting).Dispose();
    }

    [Fact]
    public void WaitingIsCancellable()
    {
        using var dir = new TempDirectory();
        using var held = StoreLock.Acquire(dir.Path, TimeSpan.FromSeconds(1), default);
        using var cts = new CancellationTokenSource(100);
        Assert.ThrowsAny<OperationCanceledException>(() => StoreLock.Acquire(dir.Path, TimeSpan.FromSeconds(30), cts.Token));
    }
}
