using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands;

/// <summary>
/// Compares the firewall with the stored bindings and reports the drift of each port device.
/// </summary>
/// <remarks>
/// Test-NwFilterBinding reads the firewall (ebtables, iptables and ip6tables) and, for each stored binding, compares
/// the rules the kernel holds for the port device with the rules the binding needs now. The needed rules are made by
/// applying the bindings in a scratch network namespace (created and deleted on the way) and reading them back with
/// the same save tools, so both sides are in the tools' own words. A binding with the nftables backend is compared the
/// same way through nft list ruleset (lines prefixed "nft bridge" or "nft inet", chain names without the port's id and
/// generation, such as vnet0/I); rules of the port in the other backend's tables (left over from a backend change)
/// are listed as unexpected.
///
/// Each BindingDrift has a Status: InSync; Drifted (MissingRules and UnexpectedRules list the differences in save
/// format, family first); Missing (no rule of the port is left: a flushed firewall, a restart); Orphaned (NwFilter
/// chains for a port device without a binding, when all bindings are tested). Warnings tell when the bridge netfilter
/// hooks are off, so that iptables rules, though present, do not apply. Restore-NwFilterBinding repairs drift.
///
/// PortDeviceExists is false (and a warning says so) for a binding whose port device is no interface of its namespace:
/// a typo, or a VM not started yet; its rules are in force but match nothing. The table shows it as "no port" after
/// the status. A -NetworkNamespace that does not exist is an error (NetworkNamespaceNotFound).
///
/// Reading the firewall needs root.
/// </remarks>
/// <example>
/// <code>Test-NwFilterBinding</code>
/// <para>Reports every binding's drift, and NwFilter chains that belong to no binding.</para>
/// </example>
/// <example>
/// <code>Test-NwFilterBinding vnet0 | Select-Object -ExpandProperty MissingRules</code>
/// <para>Lists the rules of vnet0 that are missing from the firewall.</para>
/// </example>
/// <seealso cref="GetNwFilterBindingCommand"/>
/// <seealso cref="InvokeNwFilterBindingCommand"/>
/// <seealso cref="RemoveNwFilterBindingCommand"/>
/// <seealso cref="RestoreNwFilterBindingCommand"/>
[Cmdlet(VerbsDiagnostic.Test, "NwFilterBinding")]
[OutputType(typeof(BindingDrift))]
public sealed class TestNwFilterBindingCommand : NwFilterCmdlet
{
    private readonly List<string> _ports = [];
    private bool _all;

    /// <summary>The port devices to test. Wildcards are allowed; the default is every binding (and orphaned chains).</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PortDeviceCompleter))]
    public string[] PortDevice { get; set; } = ["*"];

    /// <summary>The network namespace to test (default: NWFILTER_NETNS, else the host's own).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var stored = BindingAccess.StoredPorts(BindingAccess.Namespace(NetworkNamespace));
        foreach (var name in PortDevice)
        {
            _all |= name == "*";
            if (Pattern(name) is not { } pattern)
            {
                continue;
            }
            var found = stored.Where(pattern.IsMatch).ToList();
            if (found.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                WriteError(Diagnostic.Error(ApplyCodes.BindingNotFound, $"No binding for port device '{name}'.", DiagnosticCategory.ObjectNotFound), name);
            }
            _ports.AddRange(found.Where(p => !_ports.Contains(p)));
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        if (_ports.Count == 0 && !_all)
        {
            return;
        }
        var runtime = Runtime;
        var host = NewHost();
        var ns = runtime.Namespace(BindingAccess.Namespace(NetworkNamespace));
        try
        {
            var status = host.Run(token => runtime.HandleAsync(new BindingStatusRequest(_all ? null : _ports, ns, TestDrift: true), host, token));
            foreach (var problem in status.Problems.Where(p => p.Code == RuntimeCodes.NetworkNamespaceNotFound))
            {
                WriteError(problem, ns);
            }
            foreach (var d in status.Drift)
            {
                WriteWarnings(d.Warnings);
                var portExists = d.Status == BindingDriftStatus.Orphaned ? (bool?)null : !status.MissingPortDevices.Contains(d.PortDevice);
                if (portExists == false)
                {
                    WriteWarning($"{d.PortDevice}: there is no such interface{(ns is null ? "" : " in network namespace " + ns)} (PortDeviceNotFound): " +
                        "its binding's rules match nothing until it exists; check the name.");
                }
                // PortDeviceExists on this wrapper: false for a binding whose port device is no interface (yet).
                var o = new PSObject(d);
                o.Properties.Add(new PSNoteProperty("PortDeviceExists", portExists));
                WriteObject(o);
            }
        }
        catch (NwFilterException e)
        {
            WriteError(e, ns ?? "firewall");
        }
    }
}
