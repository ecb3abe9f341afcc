using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands.Completers;

/// <summary>Completes the host's named network namespaces (<c>/run/netns</c>, what <c>ip netns list</c> shows).</summary>
public sealed class NetworkNamespaceCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var (prefix, quote) = CompletionText.Unquote(wordToComplete);
        List<string> names;
        try
        {
            names = [.. Directory.EnumerateFileSystemEntries(NwFilterRuntime.NamedNamespaceDirectory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }
        foreach (var name in names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            yield return new CompletionResult(CompletionText.Quote(name, quote), name, CompletionResultType.ParameterValue, $"network namespace {name}");
        }
    }
}
