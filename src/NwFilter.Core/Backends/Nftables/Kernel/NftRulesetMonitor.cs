using System.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.Nftables.Kernel;

/// <summary>
/// The kernel's nf_tables change events of a namespace, read from <c>nft monitor</c> run as a child process there. Every
/// committed transaction ends with <c># new generation N by process PID (NAME)</c>: that line is one change. It covers
/// NwFilter's nftables tables and, where the xtables tools are the nft variants (ebtables-nft, iptables-nft: Debian's
/// default, this machine's), the ebtables/iptables tables of the EbIpTables backend too; with xtables-legacy tools their
/// changes make no event and only the periodic check sees them. Transactions committed by this very process (an
/// in-process libnftables context) are not reported: they are NwFilter's own.
/// </summary>
internal sealed class NftRulesetMonitor(string? networkNamespace) : IRulesetChangeSource
{
    private const string GenerationPrefix = "# new generation ";

    public string Name => "nft monitor" + (networkNamespace is null ? "" : " in network namespace " + networkNamespace);

    public async Task WatchAsync(Action<string> changed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changed);
        var request = new ProcessRequest(FirewallTools.Locate("nft") ?? "nft", "monitor");
        if (networkNamespace is not null)
        {
            request = NetworkNamespace.Wrap(request, networkNamespace);
        }
        var info = new ProcessStartInfo(request.Program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in request.Arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var monitor = Process.Start(info) ?? throw new InvalidOperationException("nft monitor did not start");
        var stderr = monitor.StandardError.ReadToEndAsync(CancellationToken.None);
        using var kill = cancellationToken.Register(() =>
        {
            try
            {
                monitor.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It had ended.
            }
        });
        var own = $" by process {Environment.ProcessId} ";
        while (await monitor.StandardOutput.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is { } line)
        {
            if (line.StartsWith(GenerationPrefix, StringComparison.Ordinal) && !line.Contains(own, StringComparison.Ordinal))
            {
                changed(line[2..]);
            }
        }
        await monitor.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        if (!cancellationToken.IsCancellationRequested)
        {
            var error = (await stderr.ConfigureAwait(false)).Trim();
            throw new InvalidOperationException($"{Name} ended (exit code {monitor.ExitCode}){(error.Length > 0 ? ": " + error : "")}");
        }
    }

    /// <summary>The default change sources of a namespace: the nf_tables monitor, where nft is installed.</summary>
    public static IReadOnlyList<IRulesetChangeSource> Defaults(string? networkNamespace) =>
        FirewallTools.Locate("nft") is null ? [] : [new NftRulesetMonitor(networkNamespace)];
}
