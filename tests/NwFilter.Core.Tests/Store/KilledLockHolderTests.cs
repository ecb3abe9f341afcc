using System.Diagnostics;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Store;

/// <summary>
/// The binding store's lock (flock on <c>.lock</c>, which spans the store and the kernel changes of one namespace:
/// BindingManager holds it from reading the firewall to writing the files) is held by another process, refused to us
/// while it lives, and released by the kernel when that process is SIGKILLed: a dead applier never wedges the host.
/// </summary>
public class KilledLockHolderTests
{
    [Fact]
    public async Task ALockHeldByAProcessIsReleasedWhenItIsKilled()
    {
        using var dir = new TempDirectory();
        var store = new BindingStore(dir.Combine("bindings"));
        var info = new ProcessStartInfo(TwoWriterTests.DotnetHost()) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { TwoWriterTests.HelperPath(), "hold-lock", store.Directory })
        {
            info.ArgumentList.Add(a);
        }
        using var holder = Process.Start(info)!;
        try
        {
            Assert.Equal("locked", await holder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));
            var e = Assert.Throws<NwFilterException>(() => store.Lock(TimeSpan.FromMilliseconds(300), default));
            Assert.Equal(StoreCodes.StoreLockTimeout, e.Primary.Code);

            Process.Start("kill", ["-9", holder.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            await holder.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(137, holder.ExitCode);
            using (store.Lock(TimeSpan.FromSeconds(2), default))
            {
            }
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill();
            }
        }
    }
}
