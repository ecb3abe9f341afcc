namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// Tests that build namespaces run one at a time: they share two CPUs with everything else, and packet tests with
/// timeouts get flaky when starved.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NetnsCollection
{
    public const string Name = "Network namespaces";
}
