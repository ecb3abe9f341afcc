using System.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// A private D-Bus (dbus-daemon with the session policy, listening on a socket of its own in a temporary folder) and a
/// fake firewalld that emits its signals with dbus-send. Skips without dbus-daemon and dbus-send (resource <c>tools</c>).
/// </summary>
public sealed class PrivateDBus : IDisposable
{
    private readonly TempDirectory _dir = new("nwfilter-dbus");
    private Process _daemon;

    private PrivateDBus()
    {
        SocketPath = _dir.Combine("bus");
        Address = "unix:path=" + SocketPath;
        _daemon = Launch();
    }

    public string SocketPath { get; }

    public string Address { get; }

    public static PrivateDBus Start()
    {
        Requirement.Program("dbus-daemon");
        Requirement.Program("dbus-send");
        return new PrivateDBus();
    }

    private Process Launch()
    {
        var info = new ProcessStartInfo(FirewallTools.Locate("dbus-daemon")!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--session", "--nofork", "--nopidfile", "--address=" + Address })
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info)!;
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(SocketPath))
        {
            if (process.HasExited)
            {
                Assert.Fail("dbus-daemon ended: " + process.StandardError.ReadToEnd());
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "dbus-daemon did not listen within 10 s");
            Thread.Sleep(20);
        }
        return process;
    }

    /// <summary>Ends the bus and starts a new one on the same address (what a restart of the system bus looks like).</summary>
    public void Restart()
    {
        Stop();
        File.Delete(SocketPath);
        _daemon = Launch();
    }

    /// <summary>Sends the signal <paramref name="member"/> of firewalld's interface from firewalld's object, as firewalld would.</summary>
    public async Task EmitAsync(string member = FirewalldReloadWatch.Signal)
    {
        var result = await ProcessRunner.Default.RunAsync(new ProcessRequest("dbus-send", "--bus=" + Address, "--type=signal",
            FirewalldReloadWatch.ObjectPath, FirewalldReloadWatch.Interface + "." + member) { Timeout = TimeSpan.FromSeconds(10) }).ConfigureAwait(false);
        result.EnsureSuccess();
    }

    private void Stop()
    {
        try
        {
            _daemon.Kill();
            _daemon.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        _daemon.Dispose();
    }

    public void Dispose()
    {
        Stop();
        _dir.Dispose();
    }
}
