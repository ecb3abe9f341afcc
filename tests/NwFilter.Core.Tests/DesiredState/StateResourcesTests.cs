using System.Security.Cryptography;
using System.Text.Json.Nodes;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.DesiredState;

/// <summary>
/// The DSC resources' operations as nwfilterd runs them for nwfilterctl, on a runtime over a temp store (filters only:
/// no firewall). The Pester DSC and Ansible tests compare them byte for byte with the pwsh entry on a real kernel.
/// </summary>
public sealed class StateResourcesTests : IAsyncDisposable
{
    private const string Web = "<filter name='web' chain='root'><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>";

    private readonly TempDirectory _dir = new("nwfilter-resources");
    private readonly NwFilterRuntime _runtime;

    public StateResourcesTests() =>
        _runtime = new NwFilterRuntime(new NwFilterRuntimeOptions
        {
            Location = new StoreLocation(_dir.Combine("config"), _dir.Combine("state")),
            NamespaceProbe = _ => true,
        });

    public async ValueTask DisposeAsync()
    {
        await _runtime.DisposeAsync();
        _dir.Dispose();
    }

    private Task<StateResourceResponse> Run(string resource, string operation, object? instance, bool whatIf = false) =>
        StateResources.RunAsync(_runtime, new StateResourceRequest(resource, operation, instance as string ?? (instance is null ? null : System.Text.Json.JsonSerializer.Serialize(instance)), whatIf));

    private static JsonObject Line(StateResourceResponse r) => (JsonObject)JsonNode.Parse(Assert.Single(r.Output))!;

    private string StoreHash() => string.Join(";", Directory.Exists(_runtime.Filters.Directory)
        ? Directory.GetFiles(_runtime.Filters.Directory).Order(StringComparer.Ordinal).Select(f => Path.GetFileName(f) + "=" + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
        : []);

    [Fact]
    public async Task AFilterIsGotTestedSetExportedAndRemovedWithTheEntrysShapes()
    {
        var missing = await Run("filter", "get", new { name = "web" });
        Assert.Equal(0, missing.ExitCode);
        Assert.Equal("""{"name":"web","_exist":false}""", Assert.Single(missing.Output));
        Assert.False(Line(await Run("filter", "test", new { name = "web", xml = Web }))["_inDesiredState"]!.GetValue<bool>());

        var set = await Run("filter", "set", new { name = "web", xml = Web });
        Assert.Equal(0, set.ExitCode);
        var after = Line(set);
        Assert.Equal(["name", "xml", "hash", "_exist"], after.Select(p => p.Key));
        var state = (await HostState.ReadAsync(_runtime, null)).State.Filters.Single(f => f.Name == "web");
        Assert.Equal(state.Hash, (string)after["hash"]!);
        Assert.Equal(state.Xml, (string)after["xml"]!);
        // Printed as PowerShell's ConvertTo-Json prints it: no \u0027 or \u003C.
        Assert.Contains("\"xml\":\"<filter name='web' chain='root'>\\n", set.Output[0], StringComparison.Ordinal);
        // The store gave it the UUID derived from its name, as Set-NwFilterState does.
        Assert.Equal(NameBasedUuid.Create(StatePlan.FilterUuidNamespace, "web"), _runtime.Filters.Get("web")!.Uuid);

        var store = StoreHash();
        Assert.True(Line(await Run("filter", "test", new { name = "web", xml = Web }))["_inDesiredState"]!.GetValue<bool>());
        Assert.Equal(Assert.Single(set.Output), Assert.Single((await Run("filter", "set", new { name = "web", xml = Web })).Output));
        Assert.Equal(store, StoreHash()); // a second set rewrites nothing

        var export = await Run("filter", "export", null);
        Assert.Equal([(string)after["hash"]!], export.Output.Select(o => (string)JsonNode.Parse(o)!["hash"]!)); // built-ins are not exported

        Assert.Empty((await Run("filter", "delete", new { name = "web" })).Output);
        Assert.Null(_runtime.Filters.Get("web"));
        Assert.True(Line(await Run("filter", "test", new { name = "web", _exist = false }))["_inDesiredState"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ABuiltInFilterShowsItsXmlAndIsNeverRemoved()
    {
        var got = Line(await Run("filter", "get", new { name = "clean-traffic" }));
        Assert.StartsWith("<filter name='clean-traffic'", (string)got["xml"]!, StringComparison.Ordinal);
        Assert.Contains("<uuid>", (string)got["xml"]!, StringComparison.Ordinal);
        var removed = Line(await Run("filter", "set", new { name = "clean-traffic", _exist = false }));
        Assert.True(removed["_exist"]!.GetValue<bool>());
    }

    [Fact]
    public async Task AChangeTheHostCannotMakeExitsOneAndBadInputTwo()
    {
        // A binding in a network namespace the runtime cannot enter (its probe here says every namespace exists): the
        // input is well formed, the host cannot apply it (as root: ip netns exec fails; otherwise: root is needed).
        var ns = $"nwft-absent-{Environment.ProcessId}";
        var failed = await Run("state", "set", new
        {
            bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "allow-arp" } },
            settings = new { networkNamespace = ns },
        });
        Assert.Equal(StateResources.ExitFailed, failed.ExitCode);
        Assert.Contains(Environment.UserName == "root" ? ns : "needs root", Assert.Single(failed.Errors), StringComparison.Ordinal);
        Assert.Empty(failed.Output);
        // The same document with a filter nobody has is the input's fault.
        var bad = await Run("state", "set", new
        {
            bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "nope" } },
            settings = new { networkNamespace = ns },
        });
        Assert.Equal(StateResources.ExitInvalidInput, bad.ExitCode);
    }

    [Fact]
    public async Task WhatIfReturnsTheStateSetWouldLeaveAndChangesNothing()
    {
        await Run("filter", "set", new { name = "web", xml = Web });
        var store = StoreHash();
        var would = Line(await Run("filter", "set", new { name = "web", xml = Web.Replace("'22'", "'80'", StringComparison.Ordinal) }, whatIf: true));
        Assert.Contains("'80'", (string)would["xml"]!, StringComparison.Ordinal);
        Assert.Equal(["name", "xml", "_exist"], would.Select(p => p.Key));
        Assert.Equal(store, StoreHash());
        // Bad input fails a what-if as it fails a set.
        Assert.Equal(StateResources.ExitInvalidInput, (await Run("filter", "set", new { name = "web", xml = "<filter" }, whatIf: true)).ExitCode);
    }

    [Theory]
    [InlineData("filter", "get", null, "No JSON input: give the instance's properties on stdin (name required).")]
    [InlineData("filter", "get", "  ", "No JSON input: give the instance's properties on stdin (name required).")]
    [InlineData("filter", "get", "[1]", "The input must be a JSON object.")]
    [InlineData("filter", "get", """{"name":"web","colour":"red"}""", "'colour' is not a property of this resource; the properties are name, xml, hash, _exist.")]
    [InlineData("filter", "get", """{"Name":"web"}""", "The property 'name' is required.")]
    [InlineData("filter", "get", """{"name":""}""", "The property 'name' is required.")]
    [InlineData("filter", "get", """{"name":"web","_exist":"yes"}""", "'_exist' must be true or false.")]
    [InlineData("filter", "set", """{"name":"web"}""", "The property 'xml' is required to define the filter 'web'.")]
    [InlineData("binding", "set", """{"portDevice":"vnet0","filter":"web"}""", "The property 'macAddress' is required to bind the port 'vnet0'.")]
    [InlineData("binding", "get", """{"port":"vnet0"}""", "'port' is not a property of this resource; the properties are portDevice, macAddress, filter, parameters, backend, counters, _exist.")]
    public async Task BadInputIsExitCodeTwoWithTheEntrysMessageAndChangesNothing(string resource, string operation, string? input, string message)
    {
        var store = StoreHash();
        var r = await StateResources.RunAsync(_runtime, new StateResourceRequest(resource, operation, input));
        Assert.Equal(StateResources.ExitInvalidInput, r.ExitCode);
        Assert.Equal(message, Assert.Single(r.Errors));
        Assert.Empty(r.Output);
        Assert.Equal(store, StoreHash());
    }

    [Fact]
    public async Task AStateTheReaderRefusesNamesTheJsonPath()
    {
        var bad = await Run("filter", "set", new { name = "web", xml = "<filter name='web'><rule action='nope' direction='in'/></filter>" });
        Assert.Equal(StateResources.ExitInvalidInput, bad.ExitCode);
        Assert.StartsWith("$.filters[0].xml: ", Assert.Single(bad.Errors), StringComparison.Ordinal);
        Assert.Null(_runtime.Filters.Get("web"));

        var other = await Run("filter", "set", new { name = "web", xml = "<filter name='other' chain='root'/>" });
        Assert.Equal(StateResources.ExitInvalidInput, other.ExitCode);
        Assert.Contains("$.filters[0]", Assert.Single(other.Errors), StringComparison.Ordinal);

        var missingFilter = await Run("binding", "test", new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "nope" });
        Assert.Equal(StateResources.ExitInvalidInput, missingFilter.ExitCode);
        Assert.StartsWith("$.bindings[0].filter: ", Assert.Single(missingFilter.Errors), StringComparison.Ordinal);

        var json = await Run("filter", "get", "{bad");
        Assert.Equal(StateResources.ExitInvalidInput, json.ExitCode);
        Assert.StartsWith("The input is not valid JSON: ", Assert.Single(json.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABindingThatIsNotThereIsExistFalseAndNothingIsExported()
    {
        Assert.Equal("""{"portDevice":"vnet0","_exist":false}""", Assert.Single((await Run("binding", "get", new { portDevice = "vnet0" })).Output));
        Assert.True(Line(await Run("binding", "test", new { portDevice = "vnet0", _exist = false }))["_inDesiredState"]!.GetValue<bool>());
        Assert.Empty((await Run("binding", "export", null)).Output);
        Assert.Empty((await Run("binding", "delete", new { portDevice = "vnet0" })).Output);
    }

    [Fact]
    public async Task TheWholeHostIsGotTestedAndSetAsExportNwFilterStateWritesIt()
    {
        var got = Line(await Run("state", "get", null));
        Assert.Equal((await HostState.ReadAsync(_runtime, null)).State.StateHash, (string)got["stateHash"]!);
        Assert.Equal(["filters", "bindings", "settings", "stateHash"], got.Select(p => p.Key));

        var document = new { filters = new[] { new { name = "web", xml = Web } } };
        Assert.False(Line(await Run("state", "test", document))["_inDesiredState"]!.GetValue<bool>());
        var whatIf = await Run("state", "set", document, whatIf: true);
        Assert.Equal(JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(document))!.ToJsonString(), JsonNode.Parse(Assert.Single(whatIf.Output))!.ToJsonString());
        Assert.Null(_runtime.Filters.Get("web"));

        var set = Line(await Run("state", "set", document));
        Assert.Equal((await HostState.ReadAsync(_runtime, null)).State.StateHash, (string)set["stateHash"]!);
        Assert.Contains(set["filters"]!.AsArray(), f => (string)f!["name"]! == "web" && (string)f["origin"]! == "Defined");
        var store = StoreHash();
        var tested = Line(await Run("state", "test", document));
        Assert.True(tested["_inDesiredState"]!.GetValue<bool>());
        Assert.Equal((string)set["stateHash"]!, (string)tested["stateHash"]!);
        Assert.Equal(set.ToJsonString(), Line(await Run("state", "set", document)).ToJsonString());
        Assert.Equal(store, StoreHash());
        Assert.Equal((string)set["stateHash"]!, (string)Line(await Run("state", "export", null))["stateHash"]!);

        var bad = await Run("state", "set", "{\"filters\":[],\"colour\":1}");
        Assert.Equal(StateResources.ExitInvalidInput, bad.ExitCode);
        Assert.Equal("'colour' is not a property of this resource; the properties are filters, bindings, settings, stateHash.", Assert.Single(bad.Errors));
        var badPath = await Run("state", "set", "{\"filters\":[{\"name\":\"web\",\"xm1\":\"<filter name='web'/>\"}]}");
        Assert.Equal(StateResources.ExitInvalidInput, badPath.ExitCode);
        Assert.Contains("$.filters[0].xm1", badPath.Errors[0], StringComparison.Ordinal);
        Assert.Equal(store, StoreHash());
    }

    [Fact]
    public async Task OnlySetAndDeleteChangeAndUnknownOperationsAreRefused()
    {
        Assert.True(StateResources.Changes(new StateResourceRequest("filter", "set", null)));
        Assert.True(StateResources.Changes(new StateResourceRequest("binding", "Delete", null)));
        Assert.False(StateResources.Changes(new StateResourceRequest("filter", "set", null, WhatIf: true)));
        Assert.False(StateResources.Changes(new StateResourceRequest("filter", "test", null)));
        Assert.False(StateResources.IsOperation("state", "delete"));
        Assert.True(StateResources.IsOperation("state", "get"));
        var r = await StateResources.RunAsync(_runtime, new StateResourceRequest("filter", "frobnicate", "{}"));
        Assert.Equal((StateResources.ExitInvalidInput, "Unknown resource operation 'filter frobnicate'."), (r.ExitCode, Assert.Single(r.Errors)));
    }
}
