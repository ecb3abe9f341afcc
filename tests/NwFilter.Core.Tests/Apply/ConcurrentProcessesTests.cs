using System.Diagnostics;
using System.Globalization;
using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// Four processes (tests/NwFilter.StoreWriter runtime-worker, each an NwFilterRuntime as the module and nwfilterd host
/// it) at once against one filter store, one binding store and one network namespace: each creates 50 bindings in
/// batches of five and, between the batches, redefines its own filters and the filter cshared that every process's
/// bindings use (each redefinition re-applies the bindings that use it, the other processes' too). Afterwards the store
/// holds the 200 bindings, each once; the kernel has rules for exactly those 200 ports; and each port's rules are those
/// of the filters' final definitions: its footprint equals that of a fresh compile of the stored bindings from the final
/// filter store, applied in one batch in a second, clean namespace.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class ConcurrentProcessesTests
{
    private const int Workers = 4;
    private const int PerWorker = 50;

    [SkippableTheory]
    [InlineData(FirewallBackendKind.Nftables)]
    [InlineData(FirewallBackendKind.EbIpTables)]
    public async Task FourProcessesBindingAndRedefiningAtOnceLeaveEveryPortWithItsLatestRules(FirewallBackendKind backend)
    {
        using var lab = NetnsLab.Create(1);
        using var dir = new TempDirectory("nwfilter-concurrent");
        var location = new StoreLocation(dir.Combine("config"), dir.Combine("state"));
        var go = dir.Combine("go");
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Workers).Select(k => Start(location, lab.HostNamespace, backend, k, go)).ToList();
        try
        {
            foreach (var w in workers)
            {
                var line = await w.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(120));
                Assert.True(line == "ready", $"worker did not start: {line} {(w.HasExited ? await w.StandardError.ReadToEndAsync() : "")}");
            }
            await File.WriteAllTextAsync(go, "");
            foreach (var w in workers)
            {
                var error = w.StandardError.ReadToEndAsync();
                await w.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(600));
                Assert.True(w.ExitCode == 0, $"a worker failed ({w.ExitCode}): {await error}");
            }
        }
        finally
        {
            foreach (var w in workers)
            {
                if (!w.HasExited)
                {
                    w.Kill();
                }
                w.Dispose();
            }
        }
        var elapsed = clock.Elapsed;

        var expected = Enumerable.Range(0, Workers).SelectMany(k => Enumerable.Range(0, PerWorker).Select(i => (Port: $"cw{k}p{i}", Filter: $"cw{k}-{i % 5}"))).ToList();
        var stored = BindingStore.Open(location, lab.HostNamespace).List();
        Assert.Empty(stored.Problems);
        Assert.Equal(expected.Select(e => e.Port).Order(StringComparer.Ordinal), stored.Bindings.Select(b => b.PortDevice).Order(StringComparer.Ordinal));
        Assert.All(stored.Bindings, b => Assert.Equal(expected.Single(e => e.Port == b.PortDevice).Filter, b.Filter));
        Assert.All(stored.Bindings, b => Assert.Equal(backend, b.Backend));

        var kernel = await FirewallBackends.Get(backend).ReadFootprintAsync(lab.HostRunner, true, CancellationToken.None);
        Assert.Equal(expected.Select(e => e.Port).Order(StringComparer.Ordinal), kernel.Ports().Distinct().Order(StringComparer.Ordinal));

        // The reference: the stored bindings compiled afresh from the final filters, applied at once in a clean namespace.
        using var fresh = NetnsLab.Create(1);
        using var freshState = new TempDirectory("nwfilter-concurrent-fresh");
        var reference = new BindingManager(new BindingManagerOptions
        {
            NetworkNamespace = fresh.HostNamespace,
            HostRunner = fresh.HostRunner,
            Filters = new FilterStore(location.FilterDirectory),
            Store = new BindingStore(freshState.Combine("bindings"), fresh.HostNamespace),
        });
        var applied = await reference.ApplyAsync(stored.Bindings);
        Assert.All(applied.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        var wanted = await FirewallBackends.Get(backend).ReadFootprintAsync(fresh.HostRunner, true, CancellationToken.None);

        var wrong = expected.Select(e => e.Port).Where(p => Text(kernel, p) != Text(wanted, p)).ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} port(s) do not have the rules of their latest definition, e.g. {wrong.FirstOrDefault()}:\n" +
            (wrong.Count == 0 ? "" : $"in force, not in the fresh compile:\n{string.Join("\n", Text(kernel, wrong[0]).Split('\n').Except(Text(wanted, wrong[0]).Split('\n')))}\n" +
                $"in the fresh compile, not in force:\n{string.Join("\n", Text(wanted, wrong[0]).Split('\n').Except(Text(kernel, wrong[0]).Split('\n')))}"));
        Console.WriteLine($"{backend}: {Workers} processes x {PerWorker} bindings with redefinitions in {elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// A port's lines as the crash tests read them (temporary chain names as final ones), sorted. nft prints the
    /// mark set of a port as one mask in which its id shows (<c>meta mark &amp; 0xffff000b | &lt;id&gt;</c>); ids are
    /// given in creation order, which differs between the two namespaces, so that mask's id half is left out.
    /// </summary>
    private static string Text(IBackendFootprint footprint, string port) =>
        string.Join("\n", CrashTests.InForce(footprint.Of(port, out _))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"meta mark & 0x(ffff[0-9a-f]{4}|[0-9a-f]{4}ffff) \|",
                m => m.Groups[1].Value.StartsWith("ffff", StringComparison.Ordinal) ? "meta mark & 0xffff<id> |" : "meta mark & 0x<id>ffff |"))
            .Order(StringComparer.Ordinal));

    private static Process Start(StoreLocation location, string ns, FirewallBackendKind backend, int worker, string go)
    {
        var info = new ProcessStartInfo(TwoWriterTests.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { TwoWriterTests.HelperPath(), "runtime-worker", location.ConfigDirectory, location.StateDirectory, ns, backend.ToString(),
                     worker.ToString(CultureInfo.InvariantCulture), PerWorker.ToString(CultureInfo.InvariantCulture), go })
        {
            info.ArgumentList.Add(a);
        }
        return Process.Start(info)!;
    }
}
