using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;

namespace NwFilter.Core.Runtime;

// The default backend (docs/design/nftables.md, "The default backend"): a binding that names no backend keeps the
// backend of the port's stored binding, else gets the namespace's default: the setting (NWFILTER_BACKEND, else
// nwfilter.conf in the configuration directory, else auto) applied to the nftables probe (once per process and
// namespace). The choice and its reason go to the host as a verbose line and an information record (BackendChosen);
// a fallback to EbIpTables is a warning too.
public sealed partial class NwFilterRuntime
{
    /// <summary>Gives every binding of a request its backend; bindings that cannot have one are refused (with why) instead.</summary>
    private async Task<(List<FilterBinding> Bindings, List<BindingResult> Refused)> ChooseBackendsAsync(
        IReadOnlyList<FilterBinding> bindings, string? ns, BindingManager manager, IRuntimeHost host, CancellationToken cancellationToken)
    {
        var refused = new List<BindingResult>();
        if (bindings.All(b => !b.BackendUnset && b.Backend != FirewallBackendKind.Nftables))
        {
            return ([.. bindings], refused);
        }
        var stored = manager.Store.List().Bindings.ToDictionary(b => b.PortDevice, b => b.Backend, StringComparer.Ordinal);
        var fresh = bindings.Where(b => b.BackendUnset && !stored.ContainsKey(b.PortDevice)).ToList();
        NftablesAvailability? availability = null;
        async Task<NftablesAvailability> Nftables() => availability ??= await ProbeNftablesAsync(ns, manager, cancellationToken).ConfigureAwait(false);

        BackendChoice? choice = null;
        NwFilterException? noChoice = null;
        if (fresh.Count > 0)
        {
            try
            {
                var (preference, source) = BackendSelection.ReadSetting(Location.ConfigDirectory, Options.Environment);
                var nft = preference == BackendPreference.EbIpTables ? new NftablesAvailability(false, "not probed") : await Nftables().ConfigureAwait(false);
                choice = BackendSelection.Choose(preference, source, nft, [.. stored.Where(kv => kv.Value == FirewallBackendKind.Nftables).Select(kv => kv.Key)]);
                var message = $"Backend of {string.Join(", ", fresh.Select(b => b.PortDevice))}{Where(ns)}: {choice.Reason}.";
                host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, RuntimeEventIds.BackendChosen, message) { NetworkNamespace = ns });
                host.Report(new RuntimeEvent(RuntimeEventLevel.Information, RuntimeEventIds.BackendChosen, message) { NetworkNamespace = ns });
                if (choice.FellBack)
                {
                    host.Report(RuntimeEvent.Warning(Diagnostic.Warning(RuntimeEventIds.BackendFellBack, message)) with { NetworkNamespace = ns });
                }
            }
            catch (NwFilterException e)
            {
                noChoice = e;
            }
        }

        var result = new List<FilterBinding>(bindings.Count);
        foreach (var binding in bindings)
        {
            var b = binding;
            if (b.BackendUnset)
            {
                if (stored.TryGetValue(b.PortDevice, out var kept))
                {
                    host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, RuntimeEventIds.BackendChosen,
                        $"Backend of {b.PortDevice}{Where(ns)}: {kept}, the backend its binding was applied with (-Backend changes it).") { NetworkNamespace = ns });
                    b = b with { Backend = kept, BackendUnset = false };
                }
                else if (choice is not null)
                {
                    b = b with { Backend = choice.Kind, BackendUnset = false };
                }
                else
                {
                    refused.Add(Refuse(host, new BindingResult(b.PortDevice, b, PortError(noChoice!, b.PortDevice))));
                    continue;
                }
            }
            if (b.Backend == FirewallBackendKind.Nftables && await Nftables().ConfigureAwait(false) is { Usable: false } missing)
            {
                refused.Add(Refuse(host, new BindingResult(b.PortDevice, b, BackendSelection.Unavailable(
                    $"Port {b.PortDevice}{Where(ns)}: the Nftables backend is unusable ({missing.Reason}); nothing was applied, the port's previous rules stay in force. " +
                    "Use -Backend EbIpTables."))));
                continue;
            }
            result.Add(b);
        }
        return (result, refused);
    }

    /// <summary>The nftables probe of a namespace (the host's seam, else the process-wide probe).</summary>
    private Task<NftablesAvailability> ProbeNftablesAsync(string? ns, BindingManager manager, CancellationToken cancellationToken) =>
        Options.NftablesProbe?.Invoke(ns, cancellationToken)
        ?? NftablesProbe.ProbeAsync(ns, manager.HostRunner, (Options.PrivilegeProbe ?? RuntimeChecks.HasNetAdmin)(), cancellationToken, Options.Runner ?? ProcessRunner.Default);

    /// <summary>A request-wide refusal, as one port's error (its message names the port).</summary>
    private static NwFilterException PortError(NwFilterException e, string port) =>
        new([e.Primary with { Message = $"Port {port}: {e.Primary.Message}", Value = e.Primary.Value ?? port }, .. e.Diagnostics.Skip(1)], e);
}
