using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NwFilter.Core.Backends;
using NwFilter.Core.Host;

namespace NwFilter.Core.Runtime;

/// <summary>
/// Asks the host whether nftables is usable in a network namespace (the impure half of <see cref="BackendSelection"/>):
/// libnftables loads, and the kernel's nf_tables answers <c>nft list tables</c> there. Once per process and namespace.
/// </summary>
public static class NftablesProbe
{
    /// <summary>The soname the nftables backend's in-process runner loads.</summary>
    public const string LibNftables = "libnftables.so.1";

    // Per runner (the process's real runner is one object: once per process) and namespace.
    private static readonly ConditionalWeakTable<object, ConcurrentDictionary<string, Lazy<Task<NftablesAvailability>>>> Probes = new();

    /// <summary>
    /// Probes nftables once per process for <paramref name="networkNamespace"/>: libnftables loads, and
    /// <c>nft list tables</c> answers in the namespace (through <paramref name="runner"/>, already inside it). Without
    /// <paramref name="privileged"/> the kernel cannot be asked (nft needs CAP_NET_ADMIN): only the library is checked
    /// and that result is not kept. The result is kept per <paramref name="scope"/> (default: the runner) and namespace.
    /// </summary>
    public static Task<NftablesAvailability> ProbeAsync(string? networkNamespace, IProcessRunner runner, bool privileged, CancellationToken cancellationToken = default, object? scope = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        if (!privileged)
        {
            return Task.FromResult(LibraryLoads() is { } missing
                ? new NftablesAvailability(false, missing)
                : new NftablesAvailability(true, $"{LibNftables} loads (the kernel's nf_tables was not asked: that needs root)"));
        }
        var lazy = Probes.GetValue(scope ?? runner, _ => new(StringComparer.Ordinal)).GetOrAdd(networkNamespace ?? "", _ => new Lazy<Task<NftablesAvailability>>(() => ProbeKernelAsync(networkNamespace, runner)));
        var task = lazy.Value;
        return cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task;
    }

    /// <summary>Why libnftables does not load; null when it does.</summary>
    internal static string? LibraryLoads()
    {
        if (NativeLibrary.TryLoad(LibNftables, out var handle))
        {
            NativeLibrary.Free(handle);
            return null;
        }
        return $"{LibNftables} cannot be loaded (install libnftables1)";
    }

    private static async Task<NftablesAvailability> ProbeKernelAsync(string? ns, IProcessRunner runner)
    {
        if (LibraryLoads() is { } missing)
        {
            return new NftablesAvailability(false, missing);
        }
        var result = await runner.RunAsync(new ProcessRequest("nft", "list", "tables"), CancellationToken.None).ConfigureAwait(false);
        var where = ns is null ? "the host's namespace" : $"network namespace {ns}";
        if (result.ExitCode == ProcessResult.NotStartedExitCode)
        {
            return new NftablesAvailability(false, $"the nft program cannot be started in {where}");
        }
        return result.Succeeded
            ? new NftablesAvailability(true, $"{LibNftables} loads and the kernel's nf_tables answers in {where}")
            : new NftablesAvailability(false, $"the kernel's nf_tables does not answer in {where} ('nft list tables': {FirstLine(result.StandardError)})");
    }

    private static string FirstLine(string text)
    {
        var t = text.Trim();
        var nl = t.IndexOf('\n', StringComparison.Ordinal);
        return (nl < 0 ? t : t[..nl]).Trim() is { Length: > 0 } s ? s : "no message";
    }
}
