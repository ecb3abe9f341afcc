using System.Management.Automation;
using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands.Infrastructure;

/// <summary>The base of the statistic cmdlets: the ports they collect from the pipeline, per namespace, and the runtime call.</summary>
public abstract class NwFilterStatisticCmdlet : NwFilterCmdlet
{
    private readonly Dictionary<string, (string? Namespace, List<string> Ports, bool All)> _byNamespace = new(StringComparer.Ordinal);

    private protected bool Collected => _byNamespace.Values.Any(v => v.All || v.Ports.Count > 0);

    private protected string DescribeCollected() => string.Join("; ", _byNamespace.Values.Select(v =>
        (v.All ? "every binding" : string.Join(", ", v.Ports)) + (v.Namespace is null ? "" : $" in network namespace {v.Namespace}")));

    private protected void Collect(string[] names, string? networkNamespace)
    {
        var ns = Runtime.Namespace(BindingAccess.Namespace(networkNamespace));
        var key = ns ?? "";
        if (!_byNamespace.TryGetValue(key, out var entry))
        {
            entry = (ns, [], false);
        }
        var stored = BindingAccess.StoredPorts(ns);
        foreach (var name in names)
        {
            if (name == "*")
            {
                entry.All = true;
                continue;
            }
            if (Pattern(name) is not { } pattern)
            {
                continue;
            }
            var found = stored.Where(pattern.IsMatch).ToList();
            if (found.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                WriteError(Diagnostic.Error(ApplyCodes.BindingNotFound, $"No binding for port device '{name}'" + (ns is null ? "." : $" in network namespace {ns}."),
                    DiagnosticCategory.ObjectNotFound), name);
            }
            entry.Ports.AddRange(found.Where(p => !entry.Ports.Contains(p)));
        }
        _byNamespace[key] = entry;
    }

    private protected IEnumerable<RuleStatistic> ReadStatistics(bool reset)
    {
        var runtime = Runtime;
        var results = new List<RuleStatistic>();
        foreach (var (ns, ports, all) in _byNamespace.Values)
        {
            if (!all && ports.Count == 0)
            {
                continue;
            }
            var host = NewHost();
            BindingStatisticsResponse response;
            try
            {
                response = host.Run(token => runtime.HandleAsync(new BindingStatisticsRequest(all ? null : ports, ns, reset), host, token));
            }
            catch (NwFilterException e)
            {
                WriteError(e, ns ?? "firewall");
                continue;
            }
            foreach (var problem in response.Problems)
            {
                if (problem.Severity == DiagnosticSeverity.Warning)
                {
                    WriteWarning(problem.Message);
                }
                else
                {
                    WriteError(problem, (object?)problem.Value ?? ns ?? "firewall");
                }
            }
            results.AddRange(response.Rules);
        }
        return results;
    }
}
