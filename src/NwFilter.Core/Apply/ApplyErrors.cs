using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;

namespace NwFilter.Core.Apply;

/// <summary>The stable <see cref="Diagnostic.Code"/>s of applying, removing and checking bindings.</summary>
internal static class ApplyCodes
{
    /// <summary>A firewall tool failed (or was killed); the previous rules stay in force.</summary>
    public const string FirewallApplyFailed = "FirewallApplyFailed";

    /// <summary>The firewall could not be read (a save tool failed, or the caller is not root).</summary>
    public const string FirewallReadFailed = "FirewallReadFailed";

    /// <summary>The firewall changed between reading it and swapping (another program changed the chains).</summary>
    public const string FirewallChangedConcurrently = "FirewallChangedConcurrently";

    /// <summary>A filter needs $IP, none was given, and IP address learning is off (no learner registry).</summary>
    public const string IpLearningUnavailable = "IpLearningUnavailable";

    /// <summary>Restore-NwFilterBinding -Backend: a binding the target backend cannot take stays on its own (a warning).</summary>
    public const string BackendMoveRefused = "BackendMoveRefused";

    /// <summary>
    /// A port changed backend and its new rules are in force, but the old backend's rules could not be removed (both
    /// filter the port until Restore-NwFilterBinding removes the old ones).
    /// </summary>
    public const string OldBackendRulesRemain = "OldBackendRulesRemain";

    /// <summary>
    /// A port changed backend in two steps instead of one transaction (the old backend's rules could not be read for
    /// it): its new rules went in first, so for a moment both filtered it (never neither).
    /// </summary>
    public const string BackendMoveNotJoined = "BackendMoveNotJoined";

    /// <summary>The binding is in place with its learning rules, but its learner could not start (no such port device).</summary>
    public const string IpLearningFailed = "IpLearningFailed";

    /// <summary>Get-NwFilterStatistic: the nftables binding has no per-rule counters (its setting is off, or its rules were applied before it was on).</summary>
    public const string StatisticsOff = "StatisticsOff";

    /// <summary>Get-NwFilterStatistic: the binding waits for its IP address; only the learning rules are in force.</summary>
    public const string StatisticsLearning = "StatisticsLearning";

    /// <summary>Reset-NwFilterStatistic: the kernel refused the reset.</summary>
    public const string StatisticsResetFailed = "StatisticsResetFailed";

    /// <summary>No binding exists for the port device.</summary>
    public const string BindingNotFound = "BindingNotFound";

    /// <summary>A port device appears twice in one batch.</summary>
    public const string DuplicatePortDevice = "DuplicatePortDevice";

    /// <summary>A stored binding file could not be read.</summary>
    public const string UnreadableBindingFile = "UnreadableBindingFile";

    /// <summary>Warning: the bridge's netfilter hooks are off, so iptables rules do not see bridged traffic.</summary>
    public const string BridgeNetfilterOff = "BridgeNetfilterOff";

    /// <summary>Warning: cleaning up after an operation failed; inert leftovers are removed by the next apply.</summary>
    public const string CleanupFailed = "CleanupFailed";

    /// <summary>A network namespace name that cannot be used, or one that does not exist.</summary>
    public const string InvalidNetworkNamespace = "InvalidNetworkNamespace";

    /// <summary>Re-instantiating the bindings of a changed filter failed; nothing was changed.</summary>
    public const string ReinstantiationFailed = "ReinstantiationFailed";

    /// <summary>
    /// A binding file could not be written or deleted (a full or read-only state directory, no permission): names the
    /// file and the cause. Bindings are written before the firewall is changed, so when this fails the firewall is untouched.
    /// </summary>
    public const string BindingStoreWriteFailed = "BindingStoreWriteFailed";

    /// <summary>
    /// After the firewall refused a change, the binding files written for it could not be put back: the store is ahead
    /// of the kernel (it names rules that are not in force); Restore-NwFilterBinding applies them. Never unfiltered.
    /// </summary>
    public const string BindingStoreRevertFailed = "BindingStoreRevertFailed";
}

/// <summary>Builds the exceptions of the apply path, each naming what failed and what state the firewall is in.</summary>
internal static class ApplyErrors
{
    /// <summary>A tool that did not succeed: which step, the command, its exit status, its message, and the failing line.</summary>
    public static NwFilterException ToolFailed(string step, ProcessResult result, string? input, string? consequence)
    {
        var status = result.TimedOut ? "was killed (timed out)"
            : result.ExitCode == ProcessResult.NotStartedExitCode ? "could not be started"
            : result.ExitCode is > 128 and < 160 ? $"was killed (signal {result.ExitCode - 128})"
            : $"exited with {result.ExitCode}";
        var message = $"{Char.ToUpperInvariant(step[0])}{step[1..]} failed: {Describe(result.Request)} {status}";
        var error = result.StandardError.Trim();
        if (error.Length > 0)
        {
            message += $": {FirstLines(error, 4)}";
        }
        if (input is not null && FailedLine(error, input) is { } line)
        {
            message += $" (the failing line: '{line}')";
        }
        message += consequence is null ? "." : $". {consequence}";
        var code = step.StartsWith("reading", StringComparison.Ordinal) ? ApplyCodes.FirewallReadFailed : ApplyCodes.FirewallApplyFailed;
        var category = error.Contains("you must be root", StringComparison.OrdinalIgnoreCase) || error.Contains("Permission denied", StringComparison.OrdinalIgnoreCase)
            ? DiagnosticCategory.PermissionDenied
            : DiagnosticCategory.ResourceUnavailable;
        return new NwFilterException(Diagnostic.Error(code, message, category));
    }

    /// <summary>An exception thrown by the runner itself (not an exit status).</summary>
    public static NwFilterException RunnerFailed(string step, ProcessRequest request, Exception e, string? consequence) =>
        new(Diagnostic.Error(ApplyCodes.FirewallApplyFailed,
            $"{Char.ToUpperInvariant(step[0])}{step[1..]} failed: {Describe(request)} could not run: {e.Message}." + (consequence is null ? "" : " " + consequence),
            DiagnosticCategory.ResourceUnavailable), e);

    public static NwFilterException Changed(string what) =>
        new(Diagnostic.Error(ApplyCodes.FirewallChangedConcurrently,
            $"The firewall changed while NwFilter was applying ({what}); nothing was swapped and the previous rules stay in force. Try again.",
            DiagnosticCategory.InvalidOperation));

    /// <summary>The command without the <c>ip netns exec NAME</c> wrapper, with the namespace said in words.</summary>
    private static string Describe(ProcessRequest request)
    {
        var args = request.Arguments;
        if (request.Program == NetworkNamespace.IpProgram && args.Count >= 4 && args[0] == "netns" && args[1] == "exec")
        {
            return $"'{CommandLine.Format(args[3], args.Skip(4))}' (in network namespace {args[2]})";
        }
        return $"'{request}'";
    }

    private static string FirstLines(string text, int count)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(" / ", lines.Take(count).Select(l => l.Trim())) + (lines.Length > count ? " ..." : "");
    }

    /// <summary>The input line a restore tool names ("line 6 failed", "Error occurred at line: 6"), or null.</summary>
    private static string? FailedLine(string error, string input)
    {
        var match = System.Text.RegularExpressions.Regex.Match(error, @"line:? (\d+)");
        if (!match.Success || !int.TryParse(match.Groups[1].Value, out var n))
        {
            return null;
        }
        var lines = input.Split('\n');
        return n >= 1 && n <= lines.Length ? lines[n - 1] : null;
    }
}
