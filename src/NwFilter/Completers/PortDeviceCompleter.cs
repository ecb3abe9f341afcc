using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Model;

namespace NwFilter.Commands.Completers;

/// <summary>Completes the port devices of stored bindings (of -NetworkNamespace when typed, else NWFILTER_NETNS's).</summary>
public sealed class PortDeviceCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var (prefix, quote) = CompletionText.Unquote(wordToComplete);
        var typed = fakeBoundParameters?["NetworkNamespace"] as string;
        IEnumerable<FilterBinding> bindings;
        try
        {
            bindings = RuntimeSessions.Current.Manager(BindingAccess.Namespace(typed)).Store.List().Bindings;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Core.Diagnostics.NwFilterException)
        {
            yield break;
        }
        foreach (var b in bindings)
        {
            if (b.PortDevice.StartsWith(prefix, StringComparison.Ordinal))
            {
                yield return new CompletionResult(CompletionText.Quote(b.PortDevice, quote), b.PortDevice, CompletionResultType.ParameterValue,
                    $"{b.PortDevice}: {b.Filter} ({MacAddressText.Format(b.MacAddress)})");
            }
        }
    }
}
