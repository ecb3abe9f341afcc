using System.Text.Json;
using NwFilter.Core.Model;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Tests.DesiredState;

/// <summary>The state document's reader and writer: round trip, and an error naming the JSON path for each kind of bad input.</summary>
public sealed class StateJsonTests
{
    private const string Web = "<filter name='web' chain='root'><uuid>0b6f3e59-4c9a-4a43-8d32-6a8f0c1f2b10</uuid><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>";

    private static string Doc(object value) => JsonSerializer.Serialize(value);

    private static NwFilterException Refused(string json, Func<string, bool>? exists = null) =>
        Assert.Throws<NwFilterException>(() => StateJson.Read(json, exists));

    [Fact]
    public void ReadsFiltersBindingsAndSettings()
    {
        var state = StateJson.Read(Doc(new
        {
            filters = new[] { new { name = "web", xml = Web } },
            bindings = new object[] { new { portDevice = "vnet0", macAddress = "52:54:00:7B:35:93", filter = "web", parameters = new { IP = new[] { "10.0.0.5", "10.0.0.6" }, PORT = 22 } } },
            settings = new { defaultBackend = "nftables", pruneBindings = true },
        }));
        var filter = Assert.Single(state.Filters);
        Assert.Equal("web", filter.Name);
        Assert.DoesNotContain("uuid", filter.Xml);
        Assert.Equal(["clean-traffic"], filter.References.ToArray());
        var binding = Assert.Single(state.Bindings);
        Assert.Equal("52:54:00:7b:35:93", binding.MacAddress);
        Assert.Equal(["10.0.0.5", "10.0.0.6"], binding.Parameters["IP"].ToArray());
        Assert.Equal(["22"], binding.Parameters["PORT"].ToArray());
        Assert.Equal(FirewallBackendKind.Nftables, binding.Backend);
        Assert.Equal("vnet0", binding.Owner);
        Assert.True(state.Settings.PruneBindings);
    }

    [Fact]
    public void ADocumentWithoutDefaultBackendLeavesTheBackendToTheHostAndANamedOneMeansIt()
    {
        var binding = new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "clean-traffic" };
        var auto = StateJson.Read(Doc(new { bindings = new[] { binding } }), _ => true);
        Assert.Null(auto.Settings.DefaultBackend);
        Assert.True(Assert.Single(auto.Bindings).Binding.BackendUnset); // the runtime chooses, as for Invoke-NwFilterBinding without -Backend
        Assert.Contains("\"defaultBackend\": \"auto\"", StateJson.Write(auto), StringComparison.Ordinal);
        Assert.True(Assert.Single(StateJson.Read(StateJson.Write(auto), _ => true).Bindings).Binding.BackendUnset); // round trip keeps it unset
        Assert.Null(StateJson.Read(Doc(new { bindings = new[] { binding }, settings = new { defaultBackend = "auto" } }), _ => true).Settings.DefaultBackend);

        var eb = StateJson.Read(Doc(new { bindings = new[] { binding }, settings = new { defaultBackend = "ebiptables" } }), _ => true);
        Assert.Equal(FirewallBackendKind.EbIpTables, eb.Settings.DefaultBackend);
        Assert.False(Assert.Single(eb.Bindings).Binding.BackendUnset);
        Assert.Equal(FirewallBackendKind.EbIpTables, Assert.Single(eb.Bindings).Backend);

        var bad = Refused(Doc(new { settings = new { defaultBackend = "pf" } }), _ => true);
        Assert.Contains("use auto, ", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ABindingLeftToTheHostsDefaultMatchesThePortsBindingOnEitherBackend()
    {
        var desired = StateJson.Read(Doc(new { bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "clean-traffic", owner = "vm1" } } }), _ => true);
        foreach (var kind in new[] { FirewallBackendKind.Nftables, FirewallBackendKind.EbIpTables })
        {
            var host = HostState.FromBinding(Assert.Single(desired.Bindings).Binding with { Backend = kind, BackendUnset = false });
            Assert.Empty(StateComparison.BindingProperties(Assert.Single(desired.Bindings), host));
        }
        // A document that names a backend still differs from a port on the other one.
        var named = StateJson.Read(Doc(new { bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "clean-traffic", owner = "vm1", backend = "nftables" } } }), _ => true);
        var ebHost = HostState.FromBinding(Assert.Single(named.Bindings).Binding with { Backend = FirewallBackendKind.EbIpTables });
        Assert.Equal(["Backend"], StateComparison.BindingProperties(Assert.Single(named.Bindings), ebHost).ToArray());
    }

    [Fact]
    public void CountersAreKeptWhenABindingSetsThemAndLeftToThePortWhenADocumentDoesNot()
    {
        var json = (bool? counters) => Doc(new { bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "clean-traffic", owner = "vm1", counters } } });
        var on = Assert.Single(StateJson.Read(json(true), _ => true).Bindings);
        Assert.True(on.Counters);
        Assert.True(on.Binding.Counters);
        Assert.Contains("\"counters\": true", StateJson.Write(new NwFilterState { Bindings = [on] }), StringComparison.Ordinal);
        Assert.True(Assert.Single(StateJson.Read(StateJson.Write(new NwFilterState { Bindings = [on] }), _ => true).Bindings).Counters); // round trip
        var unset = Assert.Single(StateJson.Read(json(null), _ => true).Bindings);
        Assert.Null(unset.Counters);
        Assert.DoesNotContain("counters", StateJson.Write(new NwFilterState { Bindings = [unset] }), StringComparison.Ordinal);

        // A document that says nothing matches a port with counters either way; one that says on differs from a port without.
        var hostOn = HostState.FromBinding(on.Binding with { Backend = FirewallBackendKind.Nftables, BackendUnset = false });
        var hostOff = HostState.FromBinding(on.Binding with { Backend = FirewallBackendKind.Nftables, BackendUnset = false, Counters = false });
        var hostUnset = HostState.FromBinding(unset.Binding with { Backend = FirewallBackendKind.Nftables, BackendUnset = false });
        Assert.Empty(StateComparison.BindingProperties(unset, hostOn));
        Assert.Empty(StateComparison.BindingProperties(unset, hostOff));
        Assert.Empty(StateComparison.BindingProperties(on, hostOn));
        Assert.Equal(["Counters"], StateComparison.BindingProperties(on, hostOff).ToArray());
        Assert.Equal(["Counters"], StateComparison.BindingProperties(on, hostUnset).ToArray());

        // Set re-applies a binding that leaves counters to the host with the port's setting (it differs in its filter here).
        var desired = StateJson.Read(Doc(new { bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "allow-arp", owner = "vm1" } } }), _ => true);
        var plan = StatePlan.Create(desired, new NwFilterState { Bindings = [hostOn] });
        Assert.True(Assert.Single(plan.Apply).Counters);
        Assert.Null(Assert.Single(StatePlan.Create(desired, new NwFilterState { Bindings = [hostUnset] }).Apply).Counters);

        var bad = Refused(Doc(new { bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "clean-traffic", counters = "on" } } }), _ => true);
        var d = Assert.Single(bad.Diagnostics);
        Assert.Equal(("$.bindings[0].counters", StateCodes.WrongType), (d.Source, d.Code));
        Assert.Equal("Expected true, false or null (per-rule counters on, off, or left to the host), found a string.", d.Message);
    }

    [Fact]
    public void WriteThenReadGivesTheSameState()
    {
        var state = StateJson.Read(Doc(new
        {
            filters = new object[] { new { name = "web", xml = Web }, new { name = "clean-traffic", hash = new string('a', 64) } },
            bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "web", owner = "vm1" } },
        }));
        var again = StateJson.Read(StateJson.Write(state));
        Assert.Equal(state.StateHash, again.StateHash);
        Assert.Equal(state.Filters.Select(f => (f.Name, f.Hash, f.Xml)), again.Filters.Select(f => (f.Name, f.Hash, f.Xml)));
        Assert.Equal("vm1", Assert.Single(again.Bindings).Owner);
    }

    [Fact]
    public void KeysMatchWithoutRegardToCase()
    {
        var state = StateJson.Read("""{ "Filters": [ { "Name": "web", "Xml": "<filter name='web'/>" } ], "StateHash": "x" }""");
        Assert.Equal("web", Assert.Single(state.Filters).Name);
    }

    [Fact]
    public void AnUnknownKeyIsRefusedWithItsPath()
    {
        var e = Refused("""{ "filters": [ { "name": "web", "xml": "<filter name='web'/>" }, { "name": "b", "xm1": "<filter name='b'/>" } ] }""");
        var d = Assert.Single(e.Diagnostics.Where(d => d.Code == StateCodes.UnknownKey));
        Assert.Equal("$.filters[1].xm1", d.Source);
        Assert.Contains("'xm1' is not a key of a filter", d.Message);
    }

    [Fact]
    public void AWrongTypeIsRefusedWithItsPath()
    {
        var e = Refused("""{ "bindings": [ { "portDevice": "vnet0", "macAddress": "52:54:00:7b:35:93", "filter": "clean-traffic", "parameters": { "IP": true } } ], "settings": { "pruneBindings": "yes" } }""", _ => true);
        Assert.Equal(["$.bindings[0].parameters.IP", "$.settings.pruneBindings"], e.Diagnostics.Select(d => d.Source).Order(StringComparer.Ordinal));
        Assert.All(e.Diagnostics, d => Assert.Equal(StateCodes.WrongType, d.Code));
        Assert.Contains(e.Diagnostics, d => d.Message == "Expected a boolean, found a string.");
    }

    [Fact]
    public void AFilterWhoseXmlDoesNotParseIsRefusedWithItsPath()
    {
        var e = Refused(Doc(new { filters = new[] { new { name = "web", xml = "<filter name='web'><rule action='accept' direction='sideways'/></filter>" } } }));
        var d = Assert.Single(e.Diagnostics);
        Assert.Equal(StateCodes.FilterInvalid, d.Code);
        Assert.Equal("$.filters[0].xml", d.Source);
        Assert.Contains("sideways", d.Message);
    }

    [Fact]
    public void AFilterWhoseXmlNamesAnotherFilterIsRefused()
    {
        var e = Refused(Doc(new { filters = new[] { new { name = "web", xml = "<filter name='db'/>" } } }));
        Assert.Equal(StateCodes.FilterNameMismatch, Assert.Single(e.Diagnostics).Code);
    }

    [Fact]
    public void ABindingToAFilterNeitherTheDocumentNorTheHostHasIsRefused()
    {
        var json = Doc(new { bindings = new[] { new { portDevice = "vnet0", macAddress = "52:54:00:7b:35:93", filter = "nope" } } });
        var d = Assert.Single(Refused(json, name => name == "clean-traffic").Diagnostics);
        Assert.Equal(StateCodes.FilterNotFound, d.Code);
        Assert.Equal("$.bindings[0].filter", d.Source);
        Assert.Single(StateJson.Read(json, name => name == "nope").Bindings);
    }

    [Fact]
    public void AHashThatDisagreesWithTheXmlIsRefused()
    {
        var e = Refused(Doc(new { filters = new[] { new { name = "web", xml = Web, hash = new string('0', 64) } } }));
        Assert.Equal("$.filters[0].hash", Assert.Single(e.Diagnostics, d => d.Code == StateCodes.HashMismatch).Source);
    }

    [Fact]
    public void EveryProblemIsReportedAtOnce()
    {
        var e = Refused("""{ "filters": [ { "xml": "<filter name='a'/>" }, { "name": "a", "xml": "<filter name='a'/>" }, { "name": "a", "xml": "<filter name='a'/>" } ], "bindings": [ { "portDevice": "vnet0", "macAddress": "zz", "filter": "a" } ], "extra": 1 }""");
        var found = e.Diagnostics.Select(d => $"{d.Code} {d.Source}").ToHashSet();
        Assert.Equal(
            new HashSet<string> { StateCodes.UnknownKey + " $.extra", StateCodes.MissingKey + " $.filters[0]", StateCodes.Duplicate + " $.filters[2].name", StateCodes.InvalidValue + " $.bindings[0].macAddress" },
            found);
    }

    [Fact]
    public void InvalidJsonIsRefusedWithWhereItBroke()
    {
        var d = Assert.Single(Refused("{ \"filters\": [ }").Diagnostics);
        Assert.Equal(StateCodes.InvalidJson, d.Code);
        Assert.Contains("line 1", d.Message);
    }
}
