using System.Buffers.Binary;
using System.Net.NetworkInformation;
using System.Text;
using System.Text.Json.Nodes;
using NwFilter.Core.Apply;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Runtime.Control;
using NwFilter.Core.Xml;

namespace NwFilter.Daemon.Tests.Protocol;

/// <summary>The control contract without sockets: every request and response round-trips, hostile JSON is refused with
/// the contract's own error and nothing else, and the framing refuses lengths and ends it cannot trust.</summary>
public sealed class ControlContractTests
{
    private static FilterDefinition Filter(string name, int port) => NwFilterXmlReader.ReadFilter(
        $"<filter name='{name}' chain='ipv4'><uuid>0b8a3c1e-3e2d-4d5c-9a8b-7c6d5e4f3a2b</uuid><rule action='drop' direction='in' priority='500'><tcp dstportstart='{port}'/></rule></filter>").Value;

    private static FilterBinding Binding(FirewallBackendKind? backend) =>
        Bindings.Create("vnet7", PhysicalAddress.Parse("52-54-00-00-00-07"), "clean-traffic", ParameterSet.Empty.With("IP", "192.0.2.7"), backend: backend);

    private static JsonObject Reparse(JsonObject o) => (JsonObject)JsonNode.Parse(o.ToJsonString())!;

    [Fact]
    public void EveryRequestRoundTrips()
    {
        var define = (DefineFiltersRequest)ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(
            new DefineFiltersRequest([Filter("a", 1), Filter("b", 2)], AllOrNothing: false, SkipUnchanged: true, new Dictionary<string, FilterDefinition?> { ["a"] = Filter("a", 3), ["c"] = null }))));
        Assert.Equal(["a", "b"], define.Filters.Select(f => f.Name));
        Assert.Equal(NwFilterXmlWriter.Write(Filter("b", 2)), NwFilterXmlWriter.Write(define.Filters[1]));
        Assert.False(define.AllOrNothing);
        Assert.True(define.SkipUnchanged);
        Assert.Equal(NwFilterXmlWriter.Write(Filter("a", 3)), NwFilterXmlWriter.Write(define.Expected!["a"]!));
        Assert.Null(define.Expected!["c"]);

        Assert.Equal("x", ((UndefineFilterRequest)ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(new UndefineFilterRequest("x"))))).Name);

        foreach (var backend in new FirewallBackendKind?[] { null, FirewallBackendKind.EbIpTables, FirewallBackendKind.Nftables })
        {
            var apply = (ApplyBindingsRequest)ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(new ApplyBindingsRequest([Binding(backend)], "lab"))));
            var b = Assert.Single(apply.Bindings);
            Assert.Equal("lab", apply.NetworkNamespace);
            Assert.Equal(NwFilterXmlWriter.Write(Binding(backend)), NwFilterXmlWriter.Write(b));
            Assert.Equal(backend is null, b.BackendUnset); // the runtime still chooses the backend the host left open
            Assert.Equal(backend ?? FirewallBackendKind.EbIpTables, b.Backend);
        }

        var remove = (RemoveBindingsRequest)ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(new RemoveBindingsRequest(["vnet0", "vnet1"]))));
        Assert.Equal(["vnet0", "vnet1"], remove.PortDevices);
        Assert.Null(remove.NetworkNamespace);
        var restore = (RestoreBindingsRequest)ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(new RestoreBindingsRequest(null, "lab") { Backend = FirewallBackendKind.Nftables })));
        Assert.Null(restore.PortDevices);
        Assert.Equal(FirewallBackendKind.Nftables, restore.Backend);

        var resource = new StateResourceRequest("binding", "set", "{\"portDevice\":\"vnet0\"}", WhatIf: true, NetworkNamespace: "lab");
        Assert.Equal(resource, ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(resource))));
        var export = new StateResourceRequest("filter", "export", null);
        Assert.Equal(export, ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(export))));
        // An operation no resource has is refused by the contract, before the daemon runs anything.
        var unknown = Assert.Throws<NwFilterException>(() => ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(new StateResourceRequest("state", "delete", "{}")))));
        Assert.Equal(ControlContract.BadMessage, unknown.Primary.Code);
    }

    [Fact]
    public void AStateResourceResponseKeepsItsLinesErrorsAndExitCode()
    {
        var request = new StateResourceRequest("filter", "get", "{}");
        var response = new StateResourceResponse(["{\"name\":\"web\",\"xml\":\"<filter name='web'/>\"}", "{}"], 2, ["$.filters[0].xml: bad"], ["a warning"]);
        var back = (StateResourceResponse)ControlContract.DecodeResponse(Reparse(ControlContract.EncodeResponse(response)), request);
        Assert.Equal(response.Output.ToArray(), back.Output.ToArray());
        Assert.Equal(response.Errors.ToArray(), back.Errors.ToArray());
        Assert.Equal(response.Warnings.ToArray(), back.Warnings.ToArray());
        Assert.Equal(2, back.ExitCode);
        foreach (var code in new JsonNode?[] { null, -1, 256, 1.5, "0" })
        {
            var m = Reparse(ControlContract.EncodeResponse(response));
            m["response"]!["exitCode"] = code?.DeepClone();
            Assert.Equal(ControlContract.BadMessage, Assert.Throws<NwFilterException>(() => ControlContract.DecodeResponse(m, request)).Primary.Code);
        }
    }

    [Fact]
    public void ABindingStatusRoundTripsWithTheDaemonsLearningAndDriftNeverGoesOver()
    {
        var request = (BindingStatusRequest)ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(new BindingStatusRequest(["vnet7"], "lab"))));
        Assert.Equal(["vnet7"], request.PortDevices);
        Assert.Equal("lab", request.NetworkNamespace);
        Assert.False(request.TestDrift);
        Assert.Null(((BindingStatusRequest)ControlContract.DecodeRequest(Reparse(ControlContract.EncodeRequest(new BindingStatusRequest())))).PortDevices);
        Assert.Throws<ArgumentException>(() => ControlContract.EncodeRequest(new BindingStatusRequest(TestDrift: true)));

        var learnedAt = new DateTimeOffset(2026, 12, 3, 11, 0, 0, 123, TimeSpan.Zero);
        var lease = new LearnedAddress(System.Net.IPAddress.Parse("192.0.2.7"), AddressSource.Dhcp, learnedAt, learnedAt.AddHours(1), System.Net.IPAddress.Parse("192.0.2.1"));
        var status = new BindingLearningStatus("vnet7", Core.Resolution.IpLearningMode.Dhcp, IpLearningState.Learned, [lease]) { Listening = true };
        var problem = Diagnostic.Error("BindingNotFound", "no binding for vnet9", DiagnosticCategory.ObjectNotFound);
        var encoded = Reparse(ControlContract.EncodeResponse(new BindingStatusResponse("lab", [new BindingStatus(Binding(null), status), new BindingStatus(Binding(FirewallBackendKind.Nftables), null)], [problem], [])));
        var response = (BindingStatusResponse)ControlContract.DecodeResponse(encoded, request);
        Assert.Equal("lab", response.NetworkNamespace);
        Assert.Equal(2, response.Bindings.Length);
        Assert.Equal(NwFilterXmlWriter.Write(Binding(null)), NwFilterXmlWriter.Write(response.Bindings[0].Binding));
        var learning = response.Bindings[0].Learning!;
        Assert.True(learning.InDaemon); // what the client shows as the daemon's learner
        Assert.True(learning.Listening);
        Assert.Equal((Core.Resolution.IpLearningMode.Dhcp, IpLearningState.Learned), (learning.Mode, learning.State));
        Assert.Equal(lease, Assert.Single(learning.Addresses));
        Assert.Null(response.Bindings[1].Learning);
        Assert.Equal(FirewallBackendKind.Nftables, response.Bindings[1].Binding.Backend);
        Assert.Equal("BindingNotFound", Assert.Single(response.Problems).Code);

        // hostile fields are the contract's error, naming the field
        foreach (var (field, value) in new (string, JsonNode?)[] { ("state", "Sleeping"), ("mode", "7"), ("listening", "yes") })
        {
            var bad = Reparse(encoded);
            bad["response"]!["bindings"]![0]!["learning"]![field] = value;
            var e = Assert.Throws<NwFilterException>(() => ControlContract.DecodeResponse(bad, request));
            Assert.Equal(ControlContract.BadMessage, e.Primary.Code);
        }
        var address = Reparse(encoded);
        address["response"]!["bindings"]![0]!["learning"]!["addresses"]![0]!["address"] = "192.0.2.300";
        Assert.Contains("bindings[0].learning.addresses[0].address", Assert.Throws<NwFilterException>(() => ControlContract.DecodeResponse(address, request)).Message);
    }

    [Fact]
    public void ResponsesKeepErrorIdsAndPlaces()
    {
        var error = new NwFilterException(Diagnostic.Error("InvalidAttributeValue", "bad port", DiagnosticCategory.InvalidData) with { Source = "f.xml", Line = 3, Column = 7, Filter = "a", Attribute = "dstportstart", Value = "x" });
        var request = new DefineFiltersRequest([Filter("a", 1)]);
        var response = (DefineFiltersResponse)ControlContract.DecodeResponse(Reparse(ControlContract.EncodeResponse(
            new DefineFiltersResponse([new Core.Store.BatchItemResult(request.Filters[0], null, error)], error))), request);
        var d = response.Error!.Primary;
        Assert.Equal(("InvalidAttributeValue", DiagnosticCategory.InvalidData, "f.xml", 3, 7, "a", "dstportstart", "x"), (d.Code, d.Category, d.Source, d.Line, d.Column, d.Filter, d.Attribute, d.Value));
        Assert.Same(request.Filters[0], response.Items[0].Input);
        Assert.Equal(error.Message, response.Error.Message);

        var apply = new ApplyBindingsRequest([Binding(null)]);
        var bindings = (BindingsResponse)ControlContract.DecodeResponse(Reparse(ControlContract.EncodeResponse(new BindingsResponse("lab",
            [new Core.Apply.BindingResult("vnet7", Binding(FirewallBackendKind.Nftables), null), new Core.Apply.BindingResult("vnet8", null, error)],
            [Diagnostic.Warning("BridgeNetfilterOff", "off")], new Core.Apply.ExecutionReport([], 3, TimeSpan.FromMilliseconds(12))))), apply);
        Assert.Equal(["vnet7", "vnet8"], bindings.Items.Select(i => i.PortDevice));
        Assert.Equal(FirewallBackendKind.Nftables, bindings.Items[0].Binding!.Backend);
        Assert.Equal("InvalidAttributeValue", bindings.Items[1].Error!.Primary.Code);
        Assert.Equal("BridgeNetfilterOff", Assert.Single(bindings.Warnings).Code);
        Assert.Equal(3, bindings.Execution!.ProcessLaunches);

        // A response of the wrong kind for the request is the contract's error, not a cast failure.
        var wrong = Assert.Throws<NwFilterException>(() => ControlContract.DecodeResponse(Reparse(ControlContract.EncodeResponse(new UndefineFilterResponse(null, error))), apply));
        Assert.Equal(ControlContract.BadMessage, wrong.Primary.Code);
    }

    [Fact]
    public void MutatedRequestsAreRefusedWithTheContractsErrorOrTheReadersOnly()
    {
        var valid = new[]
        {
            ControlContract.EncodeRequest(new DefineFiltersRequest([Filter("a", 1)], Expected: new Dictionary<string, FilterDefinition?> { ["a"] = null })),
            ControlContract.EncodeRequest(new ApplyBindingsRequest([Binding(null), Binding(FirewallBackendKind.Nftables)], "lab")),
            ControlContract.EncodeRequest(new RestoreBindingsRequest(["vnet0"]) { Backend = FirewallBackendKind.EbIpTables }),
            ControlContract.EncodeRequest(new UndefineFilterRequest("a")),
            ControlContract.EncodeRequest(new StateResourceRequest("filter", "set", "{}", WhatIf: true, NetworkNamespace: "lab")),
        };
        JsonNode?[] junk = [null, 7, -1, 1e300, true, "", "x", "<filter", new JsonArray(), new JsonObject(), new JsonArray(1, "a", null), "Nftables", "9"];
        var random = new Random(4711);
        var refused = 0;
        for (var i = 0; i < 3000; i++)
        {
            var m = Reparse(valid[random.Next(valid.Length)]);
            var body = (JsonObject)m["request"]!;
            var containers = new List<JsonNode> { body };
            for (var k = 0; k < containers.Count; k++)
            {
                containers.AddRange((containers[k] switch { JsonObject o => o.Select(p => p.Value), JsonArray a => a.AsEnumerable(), _ => [] }).Where(n => n is JsonObject or JsonArray)!);
            }
            var target = containers[random.Next(containers.Count)];
            var replacement = junk[random.Next(junk.Length)]?.DeepClone();
            switch (target)
            {
                case JsonObject o when o.Count > 0:
                    var key = o.ElementAt(random.Next(o.Count)).Key;
                    if (random.Next(3) == 0)
                    {
                        o.Remove(key);
                    }
                    else
                    {
                        o[key] = replacement;
                    }
                    break;
                case JsonArray a when a.Count > 0:
                    a[random.Next(a.Count)] = replacement;
                    break;
            }
            try
            {
                ControlContract.DecodeRequest(m);
            }
            catch (NwFilterException)
            {
                refused++;
            }
        }
        Assert.True(refused > 1000, $"only {refused} of 3000 mutations were refused");
    }

    [Fact]
    public async Task FramesItCannotTrustAreRefused()
    {
        static byte[] Length(int n)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(b, n);
            return b;
        }
        async Task<string> Read(byte[] bytes, int max = ControlContract.MaxFrame)
        {
            try
            {
                var m = await ControlContract.ReadAsync(new MemoryStream(bytes), CancellationToken.None, max);
                return m is null ? "end" : ControlContract.TypeOf(m);
            }
            catch (NwFilterException e)
            {
                Assert.Equal(ControlContract.BadMessage, e.Primary.Code);
                return "refused";
            }
        }
        var hello = Encoding.UTF8.GetBytes("{\"type\":\"hello\"}");
        Assert.Equal("hello", await Read([.. Length(hello.Length), .. hello]));
        Assert.Equal("end", await Read([]));
        Assert.Equal("refused", await Read([0, 0]));
        Assert.Equal("refused", await Read(Length(0)));
        Assert.Equal("refused", await Read(Length(-5)));
        Assert.Equal("refused", await Read([.. Length(hello.Length), .. hello], max: 4));
        Assert.Equal("refused", await Read([.. Length(100), .. hello]));
        foreach (var text in new[] { "[]", "7", "{\"type\":7}", "{}", "{\"type\":\"x\"", "\u00ff", new string('[', 100) + new string(']', 100) })
        {
            var body = Encoding.UTF8.GetBytes(text);
            Assert.Equal("refused", await Read([.. Length(body.Length), .. body]));
        }
    }
}
