using System.Buffers.Binary;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Daemon.Protocol;
using NwFilter.Daemon.Tests.TestSupport;
using P = NwFilter.Daemon.Procedures.NwFilterProcedures;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// nwfilterd as a process on a temporary socket: hostile clients (random frames, oversized lengths, disconnects mid
/// message), 100 concurrent connections, SIGTERM. As root it runs in a lab namespace; otherwise in this one, with this
/// process's group allowed (it then changes no firewall: the calls here that are accepted only read).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DaemonProcessTests
{
    private static async Task<(DaemonProcess Daemon, TestNamespace? Ns)> StartAsync(TempDirectory dir)
    {
        if (StoreLocation.IsRoot)
        {
            var ns = new TestNamespace();
            return (await DaemonProcess.StartAsync(dir, ns.Name), ns);
        }
        var gid = TestNamespace.Run("id", "-g").StandardOutput.Trim();
        return (await DaemonProcess.StartAsync(dir, null, "--group", gid), null);
    }

    private static string[] Files(TempDirectory dir) =>
        [.. new[] { "config", "state" }.Select(d => dir.Combine(d)).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => !f.EndsWith(".lock", StringComparison.Ordinal))
            .Select(f => f + " " + File.ReadAllText(f).GetHashCode()).Order()];

    private static async Task AssertServesAsync(DaemonProcess daemon)
    {
        using var c = await new SocketClient(daemon.Socket).HandshakeAsync();
        var r = (await c.CallAsync(P.ConnectNumOfNwFilters)).Reader();
        Assert.True(r.ReadInt32() >= 20);
    }

    [Fact]
    public async Task HundredConcurrentConnectionsAreAllServed()
    {
        using var dir = new TempDirectory("nwfilterd-conc");
        var (daemon, ns) = await StartAsync(dir);
        using var _ = ns;
        await using var __ = daemon;
        var clients = Enumerable.Range(0, 100).Select(i => new SocketClient(daemon.Socket)).ToList();
        try
        {
            // All 100 open at once, each with its own handshake and calls, interleaved.
            await Task.WhenAll(clients.Select(c => c.HandshakeAsync()));
            var counts = await Task.WhenAll(clients.Select(async c =>
            {
                var list = (await c.CallAsync(P.ConnectListAllNwFilters, Args.ListAll())).Reader();
                var n = list.ReadUInt32();
                var look = await c.CallAsync(P.NwFilterBindingLookupByPortDev, Args.String("vnet0"));
                Assert.Equal(101, look.Error.Code);
                return n;
            }));
            Assert.All(counts, n => Assert.Equal(counts[0], n));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
        await AssertServesAsync(daemon);
    }

    [Fact]
    public async Task HostileClientsNeitherStopTheServerNorChangeAnything()
    {
        using var dir = new TempDirectory("nwfilterd-fuzz");
        var (daemon, ns) = await StartAsync(dir);
        using var _ = ns;
        await using var __ = daemon;
        var before = Files(dir);
        using var bystander = await new SocketClient(daemon.Socket).HandshakeAsync();
        var random = new Random(4711);

        // 1. A length word over the limit: that connection is closed, the bystander's is not.
        using (var c = new SocketClient(daemon.Socket))
        {
            var frame = new byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(frame, 64 * 1024 * 1024);
            await c.SendRawAsync(frame);
            Assert.Null(await c.ReceiveAsync());
        }
        Assert.True((await bystander.CallAsync(P.ConnectNumOfNwFilters)).Ok);

        // 2. Random bytes, random frames with valid lengths, and frames cut off by a disconnect.
        for (var i = 0; i < 300; i++)
        {
            using var c = new SocketClient(daemon.Socket);
            switch (i % 3)
            {
                case 0:
                    var junk = new byte[random.Next(1, 200)];
                    random.NextBytes(junk);
                    await c.SendRawAsync(junk);
                    break;
                case 1:
                    await c.HandshakeAsync();
                    var body = new byte[random.Next(0, 80)];
                    random.NextBytes(body);
                    var procs = new[] { P.NwFilterDefineXml, P.NwFilterUndefine, P.NwFilterBindingCreateXml, P.NwFilterBindingDelete, P.NwFilterDefineXmlFlags, P.ConnectSetIdentity, random.Next(), -1, 0 };
                    var reply = await c.CallAsync(procs[random.Next(procs.Length)], body);
                    Assert.False(reply.Ok); // random arguments decode to nothing acceptable
                    break;
                default:
                    var whole = new RpcMessage(new RpcHeader(Rpc.RemoteProgram, 1, P.NwFilterDefineXml, MessageType.Call, 1, MessageStatus.Ok),
                        new XdrWriter().WriteString("<filter name='nwfd-half' chain='root'/>").ToArray()).Encode();
                    await c.SendRawAsync(whole[..random.Next(1, whole.Length - 1)]);
                    break; // disconnect mid message
            }
        }
        Assert.True((await bystander.CallAsync(P.NwFilterLookupByName, Args.String("clean-traffic"))).Ok);
        await AssertServesAsync(daemon);
        Assert.False(daemon.HasExited);
        Assert.Equal(before, Files(dir));
        Assert.Equal(101, (await bystander.CallAsync(P.NwFilterBindingLookupByPortDev, Args.String("vnet0"))).Error.Code);
        Assert.Equal(62, (await bystander.CallAsync(P.NwFilterLookupByName, Args.String("nwfd-half"))).Error.Code);
        Assert.Contains(daemon.Lines, l => l.Contains("closed: a message length of 67108864 is over the limit", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SigtermStopsCleanlyAndRemovesTheSocket()
    {
        using var dir = new TempDirectory("nwfilterd-stop");
        var (daemon, ns) = await StartAsync(dir);
        using var _ = ns;
        await using var __ = daemon;
        using (var idle = await new SocketClient(daemon.Socket).HandshakeAsync())
        {
            Assert.Equal(0, await daemon.StopAsync());
        }
        Assert.False(File.Exists(daemon.Socket));
        Assert.Contains(daemon.Lines, l => l == "stopped");
    }

    [SkippableFact]
    public async Task PeersOtherThanRootOrTheGroupAreRefused()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "needs root to connect as another user");
        Requirement.Program("setpriv");
        Requirement.Require("tools", File.Exists("/usr/bin/python3"), "/usr/bin/python3 is not installed");
        using var dir = new TempDirectory("nwfilterd-peer");
        var (daemon, ns) = await StartAsync(dir);
        using var _ = ns;
        await using var __ = daemon;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(daemon.Socket));
        // Open the file's mode so the kernel lets nobody connect: the peer check must still refuse it. The server may
        // close before the client's first frame is sent (a broken pipe) or after (a reset, or an empty read).
        File.SetUnixFileMode(daemon.Socket, (UnixFileMode)0b110_110_110);
        var script = $"exec /usr/bin/python3 -c \"import socket,struct;s=socket.socket(socket.AF_UNIX);s.connect('{daemon.Socket}')\ntry:\n s.sendall(struct.pack('>7I',28,0x20008086,1,66,0,1,0))\n print(len(s.recv(100)))\nexcept (BrokenPipeError, ConnectionResetError): print(0)\"";
        var refused = TestNamespace.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script);
        Assert.True(refused.StandardOutput.Trim() == "0", $"expected the server to close without an answer: {refused}\n{refused.StandardOutput}{refused.StandardError}"); // closed without an answer
        Assert.Contains(daemon.Lines, l => l.Contains("refused: pid", StringComparison.Ordinal) && l.Contains("uid 65534", StringComparison.Ordinal));
        await AssertServesAsync(daemon);
    }
}
