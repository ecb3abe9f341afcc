namespace NwFilter.Core.Host;

/// <summary>
/// Running programs inside a named network namespace through <c>ip netns exec NAME program args…</c>.
/// </summary>
/// <remarks>
/// Measured (docs/design/applying.md): the wrapper costs about 1.4 ms per launch on top of the program itself
/// (<c>nsenter --net=</c> about 1.0 ms). Entering the namespace in-process with setns(2) would save that, but the
/// namespace is a per-thread property, so every launch would need a dedicated thread pinned to it. With batched
/// restore files an apply is a handful of launches, so the plain wrapper wins on simplicity.
/// </remarks>
internal static class NetworkNamespace
{
    /// <summary>The iproute2 program.</summary>
    public const string IpProgram = "ip";

    /// <summary>True when <paramref name="name"/> is a safe namespace name: a file name under /run/netns that cannot be read as an option.</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name != "." && name != ".." && name[0] != '-'
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>The same request, run inside namespace <paramref name="name"/>.</summary>
    public static ProcessRequest Wrap(ProcessRequest request, string name)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid network namespace name.", nameof(name));
        }

        return request with { Program = IpProgram, Arguments = ["netns", "exec", name, request.Program, .. request.Arguments] };
    }
}

/// <summary>An <see cref="IProcessRunner"/> whose every program runs inside one network namespace.</summary>
internal sealed class NamespacedProcessRunner : IProcessRunner
{
    private readonly IProcessRunner inner;

    public NamespacedProcessRunner(IProcessRunner inner, string namespaceName)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (!NetworkNamespace.IsValidName(namespaceName))
        {
            throw new ArgumentException($"'{namespaceName}' is not a valid network namespace name.", nameof(namespaceName));
        }

        this.inner = inner;
        NamespaceName = namespaceName;
    }

    public string NamespaceName { get; }

    public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default) =>
        inner.RunAsync(NetworkNamespace.Wrap(request, NamespaceName), cancellationToken);
}
