using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.Host;

public sealed class ProcessRunnerTests
{
    private static readonly ProcessRunner Runner = ProcessRunner.Default;

    [SkippableFact]
    public async Task ArgumentsReachTheProgramVerbatimWithoutAShell()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs /usr/bin/printf");
        var result = await Runner.RunAsync(new ProcessRequest("printf", "%s|", "a b", "$HOME", "*", "'q'", "\"d\"", ""));
        Assert.True(result.Succeeded, result.StandardError);
        Assert.Equal("a b|$HOME|*|'q'|\"d\"||", result.StandardOutput);
    }

    [SkippableFact]
    public async Task StandardInputIsFedAndOutputAndErrorAreCapturedApart()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs perl");
        var text = string.Concat(Enumerable.Range(0, 20000).Select(i => $"line {i}\n"));
        var result = await Runner.RunAsync(new ProcessRequest("perl", "-e", "while (<STDIN>) { print; } print STDERR qq(err\\n); exit 3;")
        {
            StandardInput = text,
        });
        Assert.Equal(3, result.ExitCode);
        Assert.False(result.Succeeded);
        Assert.Equal(text, result.StandardOutput);
        Assert.Equal("err\n", result.StandardError);
        Assert.Throws<ProcessFailedException>(() => result.EnsureSuccess());
    }

    [SkippableFact]
    public async Task ATimeoutKillsTheProgramAndSaysSo()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs sleep");
        var result = await Runner.RunAsync(new ProcessRequest("sleep", "30") { Timeout = TimeSpan.FromMilliseconds(200) });
        Assert.True(result.TimedOut);
        Assert.False(result.Succeeded);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(10));
    }

    [SkippableFact]
    public async Task CancellationKillsTheProgramAndThrows()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs sleep");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var started = DateTime.UtcNow;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Runner.RunAsync(new ProcessRequest("sleep", "30"), cts.Token));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AMissingProgramGives127()
    {
        var result = await Runner.RunAsync(new ProcessRequest("/nonexistent/nwfilter-no-such-program"));
        Assert.Equal(ProcessResult.NotStartedExitCode, result.ExitCode);
        Assert.Contains("nwfilter-no-such-program", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void NamespaceWrappingPrefixesIpNetnsExec()
    {
        var wrapped = NetworkNamespace.Wrap(new ProcessRequest("ebtables-restore", "--noflush") { StandardInput = "x" }, "lab-1");
        Assert.Equal("ip", wrapped.Program);
        Assert.Equal(["netns", "exec", "lab-1", "ebtables-restore", "--noflush"], wrapped.Arguments);
        Assert.Equal("x", wrapped.StandardInput);
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("-rf")]
    public void BadNamespaceNamesAreRefused(string name)
    {
        Assert.False(NetworkNamespace.IsValidName(name));
        Assert.Throws<ArgumentException>(() => new NamespacedProcessRunner(Runner, name));
    }

    [Fact]
    public void CommandLinesAreQuotedForDisplay()
    {
        Assert.Equal("ebtables -t nat -A X -s ! aa:bb 'a b' ''", new ProcessRequest("ebtables", "-t", "nat", "-A", "X", "-s", "!", "aa:bb", "a b", "").ToString());
    }
}
