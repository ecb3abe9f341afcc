using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using NwFilter.Core.Schema;

namespace NwFilter.Commands.Completers;

/// <summary>Completes rule protocols: the protocol element names (mac, arp, ip, tcp, tcp-ipv6, all, ...).</summary>
public sealed class ProtocolCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var (prefix, quote) = CompletionText.Unquote(wordToComplete);
        foreach (var p in ProtocolSchema.ByElementName.Values.OrderBy(p => p.Kind))
        {
            if (p.ElementName.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                yield return new CompletionResult(CompletionText.Quote(p.ElementName, quote), p.ElementName, CompletionResultType.ParameterValue,
                    $"{p.ElementName}: {p.Layer} layer, {p.Attributes.Length} attributes");
            }
        }
    }
}
