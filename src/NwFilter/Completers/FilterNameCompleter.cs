using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using NwFilter.Commands.Infrastructure;

namespace NwFilter.Commands.Completers;

/// <summary>Completes filter names from the store (defined and built-in).</summary>
public sealed class FilterNameCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var (prefix, quote) = CompletionText.Unquote(wordToComplete);
        IEnumerable<Core.Store.StoredFilter> filters;
        try
        {
            filters = FilterStoreAccess.Open().List().Filters;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Core.Diagnostics.NwFilterException)
        {
            yield break;
        }
        foreach (var f in filters)
        {
            if (f.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                yield return new CompletionResult(CompletionText.Quote(f.Name, quote), f.Name, CompletionResultType.ParameterValue,
                    $"{f.Name} ({f.Origin}, chain {f.Definition.Chain})");
            }
        }
    }
}
