using System.Diagnostics;
using NwFilter.Core.Runtime.Control;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Daemon.Tests.Client;

/// <summary>
/// nwfilterctl as dsc and Ansible run it, without a daemon (no root): its command line, the door it chooses and its
/// errors, each a JSON line on stderr with the entry's exit code. With a real nwfilterd it is tested by the Pester DSC and
/// Ansible tests (both doors, the same printed results, no pwsh started).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NwfilterctlTests : IDisposable
{
    private readonly TempDirectory _dir = new("nwfilterctl");

    public void Dispose() => _dir.Dispose();

    private (int Exit, string Stdout, string Stderr) Run(string stdin, IDictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nwfilterctl.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["NWFILTER_CONFIG_DIR"] = _dir.Combine("config");
        start.Environment["NWFILTER_STATE_DIR"] = _dir.Combine("state");
        start.Environment[ControlContract.SocketVariable] = _dir.Combine("no-daemon.sock");
        foreach (var (k, v) in environment)
        {
            start.Environment[k] = v;
        }
        using var p = Process.Start(start)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "nwfilterctl did not exit within 60 s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void ItsReferencesHoldNoPowerShell()
    {
        var references = typeof(NwFilter.Ctl.Program).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("NwFilter.Core", references);
        Assert.DoesNotContain(references, n => n!.StartsWith("System.Management.Automation", StringComparison.Ordinal) || n == "NwFilter");
        var deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "nwfilterctl.deps.json"));
        Assert.DoesNotContain("System.Management.Automation", deps, StringComparison.Ordinal);
    }

    [Fact]
    public void ADaemonRequiredButAbsentIsExitOneWithTheDoorsErrorAndStartsNoPwsh()
    {
        var marker = _dir.Combine("pwsh-started");
        var tripwire = _dir.Combine("pwsh");
        File.WriteAllText(tripwire, $"#!/bin/sh\necho started > '{marker}'\nexit 97\n");
        File.SetUnixFileMode(tripwire, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var r = Run("{\"name\":\"web\"}", new Dictionary<string, string?> { [ControlContract.ModeVariable] = "daemon", ["NWFILTER_PWSH"] = tripwire }, "dsc", "filter", "get");
        Assert.Equal(1, r.Exit);
        Assert.Empty(r.Stdout);
        Assert.StartsWith("{\"error\":\"" + "nwfilterd does not answer on ", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("NWFILTER_DAEMON=daemon requires it", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));

        // Its positive control: without a daemon in auto, the same call is handed to pwsh (here the tripwire, exit 97).
        var fallback = Run("{\"name\":\"web\"}", new Dictionary<string, string?> { [ControlContract.ModeVariable] = "auto", ["NWFILTER_PWSH"] = tripwire, ["NWFILTER_DSC_ENTRY"] = _dir.Combine("entry.ps1") }, "dsc", "filter", "get");
        Assert.Equal(97, fallback.Exit);
        Assert.True(File.Exists(marker));
    }

    [Fact]
    public void APwshThatCannotStartIsExitOneNamingIt()
    {
        var r = Run("{\"name\":\"web\"}", new Dictionary<string, string?> { [ControlContract.ModeVariable] = "inprocess", ["NWFILTER_PWSH"] = _dir.Combine("no-such-pwsh"), ["NWFILTER_DSC_ENTRY"] = _dir.Combine("entry.ps1") }, "dsc", "filter", "get");
        Assert.Equal(1, r.Exit);
        Assert.Contains("could not be started", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("no-such-pwsh", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dsc", "state", "delete")]
    [InlineData("dsc", "filter", "frobnicate")]
    [InlineData("dsc", "filter")]
    [InlineData("apply", "filter", "get")]
    [InlineData("dsc", "filter", "set", "-Force")]
    public void AWrongCommandLineIsExitTwoWithAJsonError(params string[] args)
    {
        var r = Run("", new Dictionary<string, string?>(), args);
        Assert.Equal(2, r.Exit);
        Assert.StartsWith("{\"error\":", r.Stderr, StringComparison.Ordinal);
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void AWrongDaemonModeIsExitOne()
    {
        var r = Run("{}", new Dictionary<string, string?> { [ControlContract.ModeVariable] = "sometimes" }, "dsc", "filter", "get");
        Assert.Equal(1, r.Exit);
        Assert.Contains("NWFILTER_DAEMON is 'sometimes'", r.Stderr, StringComparison.Ordinal);
    }
}
