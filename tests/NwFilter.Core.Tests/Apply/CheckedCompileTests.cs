using NwFilter.Core.Apply;
using NwFilter.Core.Backends;
using NwFilter.Core.Graph;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// The runtime's check compiles each binding once and the apply reuses that compile (BindingManager.CheckCompiles with
/// the tree texts): these prove the reuse never applies rules of a filter definition that changed in between.
/// No kernel: the nft transaction is recorded, not run.
/// </summary>
public sealed class CheckedCompileTests : IDisposable
{
    private readonly TempDirectory state = new();

    public void Dispose() => state.Dispose();

    [Fact]
    public async Task AFilterRedefinedBetweenTheCheckAndTheApplyIsCompiledAgain()
    {
        var filters = new MutableFilters(Filter("0x88b5"));
        var (manager, runner) = Manager(filters);
        var binding = Binding();
        manager.CheckCompiles(binding, manager.TreeTexts([binding]));

        filters.Filter = Filter("0x88b6"); // another process redefines it after the check
        var result = await manager.ApplyAsync([binding]);

        Assert.True(result.Items[0].Succeeded, result.Items[0].Error?.Message);
        var script = Assert.Single(runner.Scripts);
        Assert.Contains("ether type 0x88b6 drop", script, StringComparison.Ordinal);
        Assert.DoesNotContain("0x88b5", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnchangedFilterAppliesTheRulesOfTheCheckedDefinition()
    {
        var filters = new MutableFilters(Filter("0x88b5"));
        var (manager, runner) = Manager(filters);
        var binding = Binding();
        manager.CheckCompiles(binding, manager.TreeTexts([binding]));

        var result = await manager.ApplyAsync([binding]);

        Assert.True(result.Items[0].Succeeded, result.Items[0].Error?.Message);
        Assert.Contains("ether type 0x88b5 drop", Assert.Single(runner.Scripts), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEqualBindingThatWasNotCheckedIsCompiledForItself()
    {
        // The kept compile belongs to the checked object only: an equal record made later (after a redefinition) is compiled.
        var filters = new MutableFilters(Filter("0x88b5"));
        var (manager, runner) = Manager(filters);
        var checkedOne = Binding();
        manager.CheckCompiles(checkedOne, manager.TreeTexts([checkedOne]));
        filters.Filter = Filter("0x88b6");

        var result = await manager.ApplyAsync([checkedOne with { }]);

        Assert.True(result.Items[0].Succeeded, result.Items[0].Error?.Message);
        Assert.Contains("ether type 0x88b6 drop", Assert.Single(runner.Scripts), StringComparison.Ordinal);
    }

    private (BindingManager Manager, ScriptRecorder Runner) Manager(IFilterSource filters)
    {
        var runner = new ScriptRecorder();
        return (new BindingManager(new BindingManagerOptions
        {
            HostRunner = runner,
            Filters = filters,
            Store = new BindingStore(state.Combine("bindings"), null),
        }), runner);
    }

    private static FilterBinding Binding() =>
        new("vnet0", LearningPackets.VmMac, "checked") { OwnerName = "vm0", OwnerUuid = Guid.NewGuid(), Backend = FirewallBackendKind.Nftables };

    private static FilterDefinition Filter(string protocol) =>
        NwFilterXmlReader.ReadFilter($"<filter name='checked'><rule action='drop' direction='out' priority='500'><mac protocolid='{protocol}'/></rule></filter>").Value!;

    private sealed class MutableFilters(FilterDefinition filter) : IFilterSource
    {
        public FilterDefinition Filter { get; set; } = filter;

        public FilterDefinition? Find(string name) => name == Filter.Name ? Filter : null;
    }

    /// <summary>Answers nft's chain listing with an empty ruleset and records every <c>nft -f -</c> script; other programs succeed with no output.</summary>
    private sealed class ScriptRecorder : IProcessRunner
    {
        public List<string> Scripts { get; } = [];

        public Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
        {
            var output = "";
            if (request.Program == "nft" && request.Arguments.Contains("-j"))
            {
                output = "{\"nftables\": [{\"metainfo\": {\"json_schema_version\": 1}}]}";
            }
            else if (request.Program == "nft" && request.Arguments.Contains("-f"))
            {
                lock (Scripts)
                {
                    Scripts.Add(request.StandardInput ?? "");
                }
            }
            return Task.FromResult(new ProcessResult(request, 0, output, "", TimeSpan.Zero));
        }
    }
}
