using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace NwFilter.Commands.Completers;

/// <summary>Completes chain names: root and the chain prefixes libvirt accepts (a chain may also extend a prefix, such as arp-ip).</summary>
public sealed class ChainCompleter : IArgumentCompleter
{
    private static readonly (string Name, string Description)[] Chains =
    [
        ("root", "the root chain, priority 0"),
        ("mac", "MAC address checks, default priority -800"),
        ("vlan", "VLAN rules, default priority -750"),
        ("stp", "spanning-tree rules, default priority 0"),
        ("arp", "ARP rules, default priority -500"),
        ("rarp", "RARP rules, default priority -400"),
        ("ipv4", "IPv4 rules, default priority -700"),
        ("ipv6", "IPv6 rules, default priority -600"),
    ];

    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var (prefix, quote) = CompletionText.Unquote(wordToComplete);
        foreach (var (name, description) in Chains)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                yield return new CompletionResult(CompletionText.Quote(name, quote), name, CompletionResultType.ParameterValue, description);
            }
        }
    }
}
