using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using NwFilter.Core.Schema;

namespace NwFilter.Commands.Completers;

/// <summary>
/// Completes protocol attribute names (srcipaddr, dstportstart, ...): those of the command's -Protocol when it is
/// already given, else those of every protocol.
/// </summary>
public sealed class AttributeNameCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var (prefix, quote) = CompletionText.Unquote(wordToComplete);
        IEnumerable<ProtocolSchema> protocols = ProtocolSchema.All.Values;
        if (fakeBoundParameters["Protocol"] is { } given && ProtocolSchema.ByElementName.TryGetValue(given.ToString()!.ToLowerInvariant(), out var one))
        {
            protocols = [one];
        }
        var names = protocols.SelectMany(p => p.Attributes.Select(a => (a.Name, a.Types)))
            .DistinctBy(a => a.Name)
            .Where(a => a.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .OrderBy(a => a.Name, StringComparer.Ordinal);
        foreach (var (name, types) in names)
        {
            yield return new CompletionResult(CompletionText.Quote(name, quote), name, CompletionResultType.ParameterValue, $"{name}: {types}");
        }
    }
}
