using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Daemon.Procedures;
using NwFilter.Daemon.Protocol;
using NwFilter.Daemon.Tests.TestSupport;
using P = NwFilter.Daemon.Procedures.NwFilterProcedures;

namespace NwFilter.Daemon.Tests.Procedures;

/// <summary>The procedures over a runtime in temporary directories, without sockets, root or a firewall.</summary>
public sealed class NwFilterProceduresTests : IAsyncLifetime
{
    private const string Custom = "<filter name='daemon-test' chain='ipv4' priority='-650'>\n  <rule action='accept' direction='in' priority='500'>\n    <ip protocol='tcp' dstportstart='22'/>\n  </rule>\n</filter>\n";

    private readonly TempDirectory _dir = new("nwfilterd-test");
    private readonly List<string> _log = [];
    private NwFilterRuntime _runtime = null!;
    private RpcDispatcher<ConnectionState> _dispatcher = null!;

    public Task InitializeAsync()
    {
        _runtime = new NwFilterRuntime(new NwFilterRuntimeOptions
        {
            Location = new StoreLocation(_dir.Combine("config"), _dir.Combine("state")),
            PrivilegeProbe = () => false,
            InterfaceProbe = (_, _) => Task.FromResult<IReadOnlySet<string>?>(null),
        });
        _dispatcher = new P(_runtime, SilentRuntimeHost.Instance, Core.Model.FirewallBackendKind.EbIpTables, l => { lock (_log) { _log.Add(l); } }).CreateDispatcher();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _runtime.DisposeAsync();
        _dir.Dispose();
    }

    private InProcessClient Client(bool readOnlySocket = false) => new(_dispatcher, readOnlySocket);

    private string[] StoredFiles() => Directory.Exists(_dir.Combine("config")) ? [.. Directory.EnumerateFiles(_dir.Combine("config"), "*", SearchOption.AllDirectories).Order()] : [];

    [Fact]
    public async Task HandshakeAnswersAsLibvirtsDaemon()
    {
        var c = Client();
        var auth = (await c.CallAsync(P.AuthList)).Reader();
        Assert.Equal((1u, 0), (auth.ReadUInt32(), auth.ReadInt32())); // [REMOTE_AUTH_NONE]
        foreach (var (feature, supported) in new[] { (10, 1), (14, 1), (15, 1), (7, 0) })
        {
            Assert.Equal(supported, (await c.CallAsync(P.ConnectSupportsFeature, Args.Int(feature))).Reader().ReadInt32());
        }
        Assert.True((await c.CallAsync(P.ConnectOpen, Args.Open())).Ok);
        Assert.Equal("nwfilter:///system", (await c.CallAsync(P.ConnectGetUri)).Reader().ReadString(100));
        Assert.Equal(1, (await c.CallAsync(P.ConnectIsSecure)).Reader().ReadInt32());
        Assert.Equal(9_000_000ul, (await c.CallAsync(P.ConnectGetLibVersion)).Reader().ReadUInt64());
        Assert.True((await c.CallAsync(P.ConnectRegisterCloseCallback)).Ok);
        Assert.True((await c.CallAsync(P.ConnectUnregisterCloseCallback)).Ok);
        Assert.True((await c.CallAsync(P.ConnectClose)).Ok);
        Assert.Equal("internal error: connection not open", (await c.CallAsync(P.ConnectNumOfNwFilters)).Error.Message);
    }

    [Fact]
    public async Task SetIdentityOfVirtqemudIsAcceptedAndLogged()
    {
        var c = await Client().OpenAsync();
        var w = new XdrWriter().WriteUInt32(2)
            .WriteString("user-name").WriteInt32(7).WriteString("root")
            .WriteString("process-id").WriteInt32(3).WriteInt64(1234)
            .WriteUInt32(0);
        Assert.True((await c.CallAsync(P.ConnectSetIdentity, w.ToArray())).Ok);
        Assert.Equal("user-name=root process-id=1234", c.State.Identity);
        var bad = new XdrWriter().WriteUInt32(1).WriteString("x").WriteInt32(99).WriteUInt32(0).ToArray();
        Assert.Equal(ErrorCode.Rpc, (await c.CallAsync(P.ConnectSetIdentity, bad)).Error.Code);
    }

    [Fact]
    public async Task EveryDriverCallBeforeOpenIsRefused()
    {
        var c = Client();
        foreach (var proc in new[] { P.NwFilterLookupByName, P.ConnectListAllNwFilters, P.NwFilterDefineXml, P.NwFilterBindingCreateXml, P.NwFilterBindingDelete, P.ConnectGetUri })
        {
            Assert.Equal((ErrorCode.InternalError, ErrorDomain.Rpc, "internal error: connection not open"), (await c.CallAsync(proc, Args.String("x"))).Error);
        }
        Assert.Empty(StoredFiles());
    }

    [Fact]
    public async Task OpenOfAnotherDriversUriIsRefused()
    {
        var reply = await Client().CallAsync(P.ConnectOpen, Args.Open("qemu:///system"));
        Assert.Equal((5, ErrorDomain.Remote, "no connection driver available for qemu:///system"), reply.Error);
        Assert.True(P.IsNwFilterUri("nwfilter:///system"));
        Assert.True(P.IsNwFilterUri("nwfilter+unix:///system?socket=/x"));
        Assert.False(P.IsNwFilterUri("nwfilter:///session"));
    }

    [Fact]
    public async Task DefinedFilterIsFoundByNameAndUuidAndPrintedAsDefined()
    {
        var c = await Client().OpenAsync();
        var (name, uuid) = Args.ReadFilter(await c.CallAsync(P.NwFilterDefineXml, Args.String(Custom)));
        Assert.Equal("daemon-test", name);
        Assert.Equal((name, uuid), Args.ReadFilter(await c.CallAsync(P.NwFilterLookupByName, Args.String(name))));
        Assert.Equal((name, uuid), Args.ReadFilter(await c.CallAsync(P.NwFilterLookupByUuid, Args.Uuid(uuid))));
        var xml = (await c.CallAsync(P.NwFilterGetXmlDesc, Args.Filter(name, uuid, 0))).Reader().ReadString(1 << 20);
        Assert.Equal(Custom.Replace(">\n  <rule", $">\n  <uuid>{uuid:D}</uuid>\n  <rule", StringComparison.Ordinal), xml);
        // The uuid travels as its 16 bytes in text order (remote_uuid), as libvirt's virUUIDParse makes them.
        Assert.Equal(Convert.FromHexString(uuid.ToString("N")), Args.Uuid(uuid));
        var list = (await c.CallAsync(P.ConnectListAllNwFilters, Args.ListAll())).Reader();
        var count = list.ReadUInt32();
        var names = new List<string>();
        for (var i = 0; i < count; i++)
        {
            names.Add(Args.ReadFilter(ref list).Name);
        }
        Assert.Contains("daemon-test", names);
        Assert.Contains("clean-traffic", names);
        Assert.Equal(count, list.ReadUInt32());
        Assert.Equal((int)count, (await c.CallAsync(P.ConnectNumOfNwFilters)).Reader().ReadInt32());
        Assert.True((await c.CallAsync(P.NwFilterUndefine, Args.Filter(name, uuid))).Ok);
        Assert.Equal("Network filter not found: no nwfilter with matching name 'daemon-test'", (await c.CallAsync(P.NwFilterLookupByName, Args.String(name))).Error.Message);
        Assert.Contains(_log, l => l == $"filter daemon-test created ({uuid:D})");
    }

    [Fact]
    public async Task RedefineWithoutUuidClashesAsInLibvirtAndWithItsUuidReplaces()
    {
        var c = await Client().OpenAsync();
        var (_, uuid) = Args.ReadFilter(await c.CallAsync(P.NwFilterDefineXml, Args.String(Custom)));
        Assert.Equal((ErrorCode.OperationFailed, ErrorDomain.NwFilter, $"operation failed: filter 'daemon-test' already exists with uuid {uuid:D}"),
            (await c.CallAsync(P.NwFilterDefineXml, Args.String(Custom))).Error);
        var withUuid = Custom.Replace("dstportstart='22'", "dstportstart='2222'", StringComparison.Ordinal)
            .Replace(">\n  <rule", $">\n  <uuid>{uuid:D}</uuid>\n  <rule", StringComparison.Ordinal);
        Assert.Equal(("daemon-test", uuid), Args.ReadFilter(await c.CallAsync(P.NwFilterDefineXml, Args.String(withUuid))));
        Assert.Contains("2222", (await c.CallAsync(P.NwFilterGetXmlDesc, Args.Filter("daemon-test", uuid, 0))).Reader().ReadString(1 << 20));
    }

    [Fact]
    public async Task ListAllWithoutResultsGivesOnlyTheCount()
    {
        var c = await Client().OpenAsync();
        var r = (await c.CallAsync(P.ConnectListAllNwFilters, Args.ListAll(needResults: 0))).Reader();
        Assert.Equal(0u, r.ReadUInt32());
        Assert.True(r.ReadUInt32() > 20);
        r.End();
    }

    [Fact]
    public async Task ReadOnlyConnectionsCannotChangeAnything()
    {
        foreach (var c in new[] { await Client().OpenAsync(flags: 1), await Client(readOnlySocket: true).OpenAsync() })
        {
            Assert.Equal((ErrorCode.OperationDenied, ErrorDomain.Remote, "operation forbidden: read only access prevents virNWFilterDefineXML"),
                (await c.CallAsync(P.NwFilterDefineXml, Args.String(Custom))).Error);
            Assert.Equal(ErrorCode.OperationDenied, (await c.CallAsync(P.NwFilterDefineXmlFlags, Args.StringFlags(Custom, 0))).Error.Code);
            Assert.Equal(ErrorCode.OperationDenied, (await c.CallAsync(P.NwFilterBindingDelete, Args.Binding("vnet0", "clean-traffic"))).Error.Code);
            Assert.True((await c.CallAsync(P.NwFilterLookupByName, Args.String("clean-traffic"))).Ok);
        }
        Assert.Empty(StoredFiles());
    }

    [Fact]
    public async Task DefineOfBadXmlIsRefusedAndStoresNothing()
    {
        var c = await Client().OpenAsync();
        var chain = await c.CallAsync(P.NwFilterDefineXml, Args.String("<filter name='x' chain='bogus'></filter>"));
        Assert.Equal(ErrorCode.InvalidArg, chain.Error.Code);
        Assert.StartsWith("invalid argument: Invalid chain name 'bogus'.", chain.Error.Message);
        var broken = await c.CallAsync(P.NwFilterDefineXml, Args.String("<filte"));
        Assert.Equal(ErrorCode.XmlError, broken.Error.Code);
        Assert.Contains("nwfilter_definition:1:", broken.Error.Message);
        // Unknown elements: ignored as libvirt does, refused with the validate flag.
        var unknown = "<filter name='lenient' chain='root'><bogus/></filter>";
        Assert.Equal(ErrorCode.XmlError, (await c.CallAsync(P.NwFilterDefineXmlFlags, Args.StringFlags(unknown, 1))).Error.Code);
        Assert.Equal(ErrorCode.InvalidArg, (await c.CallAsync(P.NwFilterDefineXmlFlags, Args.StringFlags(unknown, 2))).Error.Code);
        Assert.Empty(StoredFiles());
        Assert.True((await c.CallAsync(P.NwFilterDefineXml, Args.String(unknown))).Ok);
    }

    [Fact]
    public async Task MissingBindingIsLibvirtsNoBindingError()
    {
        var c = await Client().OpenAsync();
        Assert.Equal((101, 33, "Network filter binding not found: no nwfilter binding for port dev 'vnet9'"), (await c.CallAsync(P.NwFilterBindingLookupByPortDev, Args.String("vnet9"))).Error);
        Assert.Equal(101, (await c.CallAsync(P.NwFilterBindingGetXmlDesc, Args.Binding("vnet9", "x", 0))).Error.Code);
        Assert.Equal(101, (await c.CallAsync(P.NwFilterBindingDelete, Args.Binding("vnet9", "x"))).Error.Code);
        // A name that is no interface name reaches no file.
        Assert.Equal(101, (await c.CallAsync(P.NwFilterBindingLookupByPortDev, Args.String("../../etc/passwd"))).Error.Code);
        var list = (await c.CallAsync(P.ConnectListAllNwFilterBindings, Args.ListAll())).Reader();
        Assert.Equal((0u, 0u), (list.ReadUInt32(), list.ReadUInt32()));
    }

    [Fact]
    public async Task CreateWithAnUndefinedFilterIsRefusedAsLibvirtDoes()
    {
        var c = await Client().OpenAsync();
        var xml = "<filterbinding><owner><name>vm1</name><uuid>11111111-2222-3333-4444-555555555555</uuid></owner><portdev name='vnet0'/><mac address='52:54:00:11:22:33'/><filterref filter='nosuch'/></filterbinding>";
        Assert.Equal((ErrorCode.InternalError, ErrorDomain.NwFilter, "internal error: referenced filter 'nosuch' is missing"), (await c.CallAsync(P.NwFilterBindingCreateXml, Args.StringFlags(xml, 0))).Error);
        Assert.False(Directory.Exists(_dir.Combine("state", "bindings")) && Directory.EnumerateFiles(_dir.Combine("state", "bindings"), "*.xml").Any());
        Assert.Equal(101, (await c.CallAsync(P.NwFilterBindingLookupByPortDev, Args.String("vnet0"))).Error.Code);
    }

    [Fact]
    public async Task UnsupportedFlagsAreRefused()
    {
        var c = await Client().OpenAsync();
        Assert.Equal("invalid argument: unsupported flags (0x4) in function nwfilterConnectListAllNWFilters", (await c.CallAsync(P.ConnectListAllNwFilters, Args.ListAll(1, 4))).Error.Message);
        Assert.Equal(ErrorCode.InvalidArg, (await c.CallAsync(P.ConnectOpen, Args.Open(flags: 8))).Error.Code);
    }

    [Fact]
    public async Task RandomArgumentsToEveryProcedureGetAnAnswerAndChangeNothing()
    {
        var c = await Client().OpenAsync();
        var before = StoredFiles();
        var random = new Random(77);
        var procedures = _dispatcher.Procedures.Where(p => p != P.ConnectClose && p != P.ConnectOpen).ToArray();
        for (var i = 0; i < 3000; i++)
        {
            var body = new byte[random.Next(0, 48)];
            random.NextBytes(body);
            if (random.Next(3) == 0 && body.Length >= 4)
            {
                body[0] = body[1] = 0; // plausible lengths now and then
            }
            var reply = await c.CallAsync(procedures[random.Next(procedures.Length)], body);
            if (!reply.Ok)
            {
                _ = reply.Error;
            }
        }
        Assert.Equal(before, StoredFiles());
        Assert.True((await c.CallAsync(P.NwFilterLookupByName, Args.String("clean-traffic"))).Ok);
    }
}
