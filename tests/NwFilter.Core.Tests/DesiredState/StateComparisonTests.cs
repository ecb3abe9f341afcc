using System.Text.Json;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.DesiredState;

/// <summary>Content hashes, the comparison of states, the migration closure and Set's plan (pure: no host).</summary>
public sealed class StateComparisonTests
{
    private const string Web = "<filter name='web' chain='root'><filterref filter='base'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>";
    private const string Base = "<filter name='base' chain='root'><filterref filter='clean-traffic'/></filter>";
    private const string Mac = "52:54:00:7b:35:93";

    private static NwFilterState Read(object doc) => StateJson.Read(JsonSerializer.Serialize(doc), _ => true);

    private static NwFilterState Host(params (string Name, string Xml)[] filters) => Read(new
    {
        // As a host lists them: its own filters with XML, the built-ins by hash.
        filters = filters.Select(f => (object)new { name = f.Name, xml = f.Xml })
            .Concat(BuiltInFilters.All.Select(b => (object)new { name = b.Name, hash = StateHashes.OfFilter(b), references = b.References.Select(r => r.Filter).ToArray() })),
        bindings = new[] { new { portDevice = "vnet0", macAddress = Mac, filter = "web", parameters = new { IP = "10.0.0.5" } } },
    });

    [Fact]
    public void AFilterHashLeavesTheUuidOut()
    {
        var a = NwFilterXmlReader.ReadFilter(Web.Replace("chain='root'>", "chain='root'><uuid>0b6f3e59-4c9a-4a43-8d32-6a8f0c1f2b10</uuid>")).Value;
        var b = NwFilterXmlReader.ReadFilter(Web.Replace("chain='root'>", "chain='root'><uuid>7d1c2a7e-1111-4a43-8d32-6a8f0c1f2b10</uuid>")).Value;
        Assert.NotEqual(a.Uuid, b.Uuid);
        Assert.Equal(StateHashes.OfFilter(a), StateHashes.OfFilter(b));
        Assert.Matches("^[0-9a-f]{64}$", StateHashes.OfFilter(a));
        var c = NwFilterXmlReader.ReadFilter(Web.Replace("'22'", "'23'")).Value;
        Assert.NotEqual(StateHashes.OfFilter(a), StateHashes.OfFilter(c));
    }

    [Fact]
    public void TheStateHashIsTheSameForTheSameContentWhateverTheOrder()
    {
        var one = Read(new { filters = new[] { new { name = "web", xml = Web }, new { name = "base", xml = Base } } });
        var two = Read(new { filters = new[] { new { name = "base", xml = Base }, new { name = "web", xml = Web } } });
        Assert.Equal(one.StateHash, two.StateHash);
        Assert.NotEqual(one.StateHash, Read(new { filters = new[] { new { name = "base", xml = Base } } }).StateHash);
    }

    [Fact]
    public void CompareSaysExactlyWhatDiffers()
    {
        var host = Host(("web", Web), ("base", Base));
        var desired = Read(new
        {
            filters = new[] { new { name = "web", xml = Web.Replace("'22'", "'2222'") }, new { name = "base", xml = Base }, new { name = "extra", xml = "<filter name='extra'/>" } },
            bindings = new object[]
            {
                new { portDevice = "vnet0", macAddress = Mac, filter = "web", parameters = new { IP = "10.0.0.9" } },
                new { portDevice = "vnet1", macAddress = Mac, filter = "web" },
            },
        });
        var result = StateComparison.Compare(desired, host);
        Assert.False(result.InDesiredState);
        Assert.Equal(["Filter 'extra': Missing", "Filter 'web': Different", "Binding 'vnet0': Different (Parameters)", "Binding 'vnet1': Missing"], result.Differences.Select(d => d.ToString()));
        Assert.True(StateComparison.Compare(host, host).InDesiredState);
    }

    [Fact]
    public void UnlistedBindingsDifferOnlyWhenTheStatePrunesThem()
    {
        var host = Host(("web", Web), ("base", Base));
        Assert.True(StateComparison.Compare(Read(new { filters = Array.Empty<object>() }), host).InDesiredState);
        var pruning = StateComparison.Compare(Read(new { settings = new { pruneBindings = true } }), host);
        Assert.Equal("Binding 'vnet0': Unlisted", Assert.Single(pruning.Differences).ToString());
    }

    [Fact]
    public void MigrationFollowsReferencesAndComparesByHash()
    {
        var source = Host(("web", Web), ("base", Base));
        var missingBase = Host(("web", Web));
        var result = StateComparison.Migration(source, missingBase, ["vnet0"]);
        Assert.False(result.InDesiredState);
        var d = Assert.Single(result.Differences);
        Assert.Equal((StateItemKind.Filter, "base", StateChange.Missing), (d.Kind, d.Name, d.Change));
        Assert.Equal(["vnet0"], d.NeededBy.ToArray());
        Assert.Equal(["base", "clean-traffic", "no-mac-spoofing", "web"], result.Compared.Where(n => n is "base" or "clean-traffic" or "no-mac-spoofing" or "web" or "allow-arp").ToArray());

        var otherWeb = Host(("web", Web.Replace("'22'", "'80'")), ("base", Base));
        Assert.Equal("Filter 'web': Different", Assert.Single(StateComparison.Migration(source, otherWeb).Differences).ToString());
        Assert.True(StateComparison.Migration(source, Host(("web", Web), ("base", Base))).InDesiredState);
        Assert.Equal("Binding 'vnet9': Missing", Assert.Single(StateComparison.Migration(source, source, ["vnet9"]).Differences).ToString());
    }

    [Fact]
    public void ThePlanHoldsOnlyWhatDiffersAndNewFiltersGetNameBasedUuids()
    {
        var host = Host(("base", Base));
        var desired = Read(new { filters = new[] { new { name = "web", xml = Web }, new { name = "base", xml = Base } } });
        var plan = StatePlan.Create(desired, host);
        var web = Assert.Single(plan.Filters);
        Assert.Equal("web", web.Name);
        Assert.Equal(NameBasedUuid.Create(StatePlan.FilterUuidNamespace, "web"), web.Uuid);
        Assert.Empty(plan.Apply);
        Assert.True(StatePlan.Create(host, host).IsEmpty);
    }

    [Fact]
    public void APlanCannotDefineAFilterGivenOnlyByHash()
    {
        var desired = Read(new { filters = new[] { new { name = "web", hash = new string('a', 64) } } });
        var e = Assert.Throws<NwFilterException>(() => StatePlan.Create(desired, Host(("base", Base))));
        Assert.Equal(StateCodes.FilterContentUnknown, e.Primary.Code);
    }

    [Fact]
    public void AStoredBuiltInIsListedByHashWithoutXml()
    {
        var builtIn = new StoredFilter(BuiltInFilters.Find("clean-traffic")!, FilterOrigin.BuiltIn, null);
        var state = HostState.FromStored(builtIn);
        Assert.Null(state.Xml);
        Assert.Equal("BuiltIn", state.Origin);
        Assert.Equal(StateHashes.OfFilter(builtIn.Definition), state.Hash);
    }
}
