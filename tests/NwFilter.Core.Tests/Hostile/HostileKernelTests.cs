using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Security.Cryptography;
using System.Text;
using NwFilter.Core.Apply;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Hostile;

/// <summary>
/// The hostile cases that reach the binding path (a binding document, or a filter compiled for a port), bound for real:
/// through a BindingManager's apply in a lab namespace where two ports are already bound (one per backend), instead of
/// the pure compile of <see cref="HostileInputTests"/>. Each fails with its own error id and leaves the namespace's
/// whole ruleset (nft, ebtables, iptables, ip6tables: hashed before and after), the binding store and the filter store
/// as they were. The filter cases (defines) never reach a bind and are left to HostileInputTests.
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class HostileKernelTests
{
    /// <summary>Looser than the pure test's 2 s: a bind reads the firewall (programs in a namespace) before it compiles.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(5);

    [SkippableFact]
    public async Task HostileBindingsAreRefusedWithTheirIdAndLeaveKernelAndStoresUnchanged()
    {
        using var lab = NetnsLab.Create(1);
        using var fixture = new HostileStore();
        using var state = new TempDirectory("nwfilter-hostile-bind");
        var bindings = new BindingStore(state.Combine("bindings"), lab.HostNamespace);
        BindingManager Manager(IFilterSource filters) => new(new BindingManagerOptions
        {
            NetworkNamespace = lab.HostNamespace,
            HostRunner = lab.HostRunner,
            Filters = filters,
            Store = bindings,
        });
        var seeded = await Manager(fixture.Store).ApplyAsync([
            new FilterBinding("hk0", PhysicalAddress.Parse("52-54-00-00-0a-01"), "no-mac-spoofing") { Backend = FirewallBackendKind.Nftables },
            new FilterBinding("hk1", PhysicalAddress.Parse("52-54-00-00-0a-02"), "no-mac-spoofing") { Backend = FirewallBackendKind.EbIpTables },
        ]);
        Assert.All(seeded.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        var seededKernel = Kernel(lab);
        Assert.Contains("hk0", seededKernel.Text, StringComparison.Ordinal);
        Assert.Contains("hk1", seededKernel.Text, StringComparison.Ordinal);

        (string Hash, string Text)? kernelBefore = null;
        var bindTime = TimeSpan.Zero;
        fixture.Bind = (binding, filters) =>
        {
            kernelBefore = Kernel(lab);
            var watch = Stopwatch.StartNew();
            var result = Manager(filters).ApplyAsync([binding]).GetAwaiter().GetResult();
            bindTime = watch.Elapsed;
            if (result.Items[0].Error is { } e)
            {
                throw e;
            }
        };

        var reached = 0;
        var failures = new List<string>();
        foreach (var c in HostileInputTests.Cases.Values.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var (filtersBefore, bindingsBefore) = (fixture.Hash(), HostileStore.HashOf(bindings.Directory));
            kernelBefore = null;
            var error = Record.Exception(() => c.Prepare(fixture)());
            if (kernelBefore is not { } before)
            {
                continue; // a define: it never reaches a bind
            }
            reached++;
            var after = Kernel(lab);
            var problems = new List<string>();
            if (error is null)
            {
                problems.Add("was bound");
            }
            else if (ErrorIds.Of(error) != c.Code)
            {
                problems.Add($"failed with {ErrorIds.Of(error) ?? error.GetType().Name} ({error.Message}), not {c.Code}");
            }
            else
            {
                try
                {
                    c.Check?.Invoke(error);
                }
                catch (Exception check)
                {
                    problems.Add($"its check failed: {check.Message}");
                }
            }
            if (bindTime > HangGuard)
            {
                problems.Add($"took {bindTime.TotalMilliseconds:F0} ms");
            }
            if (after.Hash != before.Hash)
            {
                problems.Add($"changed the kernel ruleset:\n{Diff(before.Text, after.Text)}");
            }
            if (HostileStore.HashOf(bindings.Directory) != bindingsBefore)
            {
                problems.Add("changed the binding store");
            }
            if (fixture.Hash() != filtersBefore)
            {
                problems.Add("changed the filter store");
            }
            if (problems.Count > 0)
            {
                failures.Add($"{c.Name}: {string.Join("; ", problems)}");
            }
        }
        Assert.True(reached >= 100, $"only {reached} hostile cases reached the binding path");
        Assert.True(failures.Count == 0, $"{failures.Count} of {reached} binding cases:\n{string.Join("\n", failures.Take(20))}");
        Assert.Equal(seededKernel.Hash, Kernel(lab).Hash);
        Console.WriteLine($"hostile binding cases bound in a namespace: {reached}, kernel ruleset and stores unchanged by each");
    }

    /// <summary>The namespace's whole ruleset, every tool's listing without its comment lines (dates), and its hash.</summary>
    private static (string Hash, string Text) Kernel(NetnsLab lab)
    {
        var text = new StringBuilder();
        foreach (var (program, args) in new[] { ("nft", new[] { "list", "ruleset" }), ("ebtables-save", Array.Empty<string>()), ("iptables-save", []), ("ip6tables-save", []) })
        {
            var result = lab.RunInHost(program, args);
            Assert.True(result.ExitCode == 0, $"{program}: {result.StandardError}");
            text.Append("== ").Append(program).Append('\n');
            foreach (var line in result.StandardOutput.Split('\n').Where(l => !l.StartsWith('#')))
            {
                text.Append(line).Append('\n');
            }
        }
        var s = text.ToString();
        return (Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(s))), s);
    }

    private static string Diff(string before, string after)
    {
        var (b, a) = (before.Split('\n'), after.Split('\n'));
        return string.Join("\n", a.Except(b).Select(l => "+ " + l).Concat(b.Except(a).Select(l => "- " + l)).Take(10));
    }
}
