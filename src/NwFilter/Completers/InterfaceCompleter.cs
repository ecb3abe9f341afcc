using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Host;
using NwFilter.Core.Runtime;

namespace NwFilter.Commands.Completers;

/// <summary>
/// Completes the interfaces of a network namespace (of -NetworkNamespace when typed, else NWFILTER_NETNS's, else the
/// host's own), for a port device that has no binding yet; the loopback is left out.
/// </summary>
public sealed class InterfaceCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var (prefix, quote) = CompletionText.Unquote(wordToComplete);
        var ns = BindingAccess.Namespace(fakeBoundParameters?["NetworkNamespace"] as string);
        if (ns is not null && !NwFilterRuntime.NamespaceExists(ns))
        {
            return [];
        }
        var interfaces = RuntimeChecks.ListInterfacesAsync(ns, ProcessRunner.Default, CancellationToken.None).GetAwaiter().GetResult();
        return (interfaces ?? new HashSet<string>())
            .Where(n => n != "lo" && n.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => new CompletionResult(CompletionText.Quote(n, quote), n, CompletionResultType.ParameterValue,
                ns is null ? $"interface {n}" : $"interface {n} in network namespace {ns}"));
    }
}
