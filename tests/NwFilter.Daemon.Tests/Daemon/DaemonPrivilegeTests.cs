using System.Diagnostics;
using System.Net.Sockets;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Daemon.Tests.TestSupport;
using P = NwFilter.Daemon.Procedures.NwFilterProcedures;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// Least privilege on every socket nwfilterd listens on (issue 11): clients run as another user (setpriv as nobody,
/// a throw-away identity, no account needed) speaking the RPC from a small Python client. The read-write socket takes
/// root and members of the configured group only, whatever the socket file's mode; the read-only socket takes anyone
/// (as libvirt's) but refuses every change with libvirt's "read only access" error and changes nothing; a client that
/// trickles a request is closed after the request timeout, an idle one is not.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DaemonPrivilegeTests
{
    /// <summary>
    /// Connects to argv[1] and runs the steps argv[2..] (open, num, define:NAME), printing one line per step:
    /// "STEP STATUS CODE-OR-VALUE", or "closed" when the server closed the connection (then it stops).
    /// </summary>
    private const string Client = """
        import socket, struct, sys
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); serial = 0
        def call(proc, body=b''):
            global serial; serial += 1
            s.sendall(struct.pack('>7I', 28 + len(body), 0x20008086, 1, proc, 0, serial, 0) + body)
            head = b''
            while len(head) < 4:
                b = s.recv(4 - len(head))
                if not b: return None
                head += b
            n = struct.unpack('>I', head)[0]; rest = b''
            while len(rest) < n - 4:
                b = s.recv(n - 4 - len(rest))
                if not b: return None
                rest += b
            return struct.unpack('>I', rest[20:24])[0], rest[24:]
        def xdr(text):
            b = text.encode(); return struct.pack('>I', len(b)) + b + b'\0' * (-len(b) % 4)
        for step in sys.argv[2:]:
            try:
                if step == 'open': r = call(1, struct.pack('>II', 0, 0))
                elif step == 'num': r = call(178)
                else: r = call(180, xdr("<filter name='%s' chain='root'><rule action='drop' direction='in'><all/></rule></filter>" % step.split(':')[1]))
            except (ConnectionResetError, BrokenPipeError):
                r = None
            if r is None: print('closed'); break
            status, body = r
            print(step, status, struct.unpack('>i', body[:4])[0] if len(body) >= 4 else '-')
        """;

    private static void RequireTools()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "needs root to run clients as another user");
        Requirement.Program("setpriv");
        Requirement.Require("tools", File.Exists("/usr/bin/python3"), "/usr/bin/python3 is not installed");
    }

    /// <summary>Runs <see cref="Client"/> as uid 65534 with only the group <paramref name="gid"/>.</summary>
    private static string[] RunAs(uint gid, string socket, params string[] steps)
    {
        var result = TestNamespace.Run(["setpriv", "--reuid=65534", $"--regid={gid}", "--clear-groups", "/usr/bin/python3", "-c", Client, socket, .. steps]);
        Assert.True(result.ExitCode == 0, $"client failed: {result.StandardError}");
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string[] Filters(TempDirectory dir) =>
        Directory.Exists(dir.Combine("config")) ? [.. Directory.GetFiles(dir.Combine("config"), "*.xml").Select(Path.GetFileName).Order()!] : [];

    [SkippableFact]
    public async Task TheReadOnlySocketServesAnyoneButRefusesEveryChange()
    {
        RequireTools();
        using var dir = new TempDirectory("nwfilterd-ro");
        using var ns = new TestNamespace();
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name, "--read-only-socket", dir.Combine("sock-ro"));
        var before = Filters(dir);

        var lines = RunAs(65534, dir.Combine("sock-ro"), "open", "num", "define:ro-probe");
        Assert.Equal("open 0 -", lines[0]);
        Assert.StartsWith("num 0 ", lines[1], StringComparison.Ordinal);
        Assert.True(int.Parse(lines[1].Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture) >= 20, lines[1]);
        Assert.Equal($"define:ro-probe 1 {NwFilter.Daemon.Protocol.ErrorCode.OperationDenied}", lines[2]); // libvirt's "read only access prevents"
        Assert.Equal(before, Filters(dir));
        Assert.DoesNotContain("ro-probe.xml", Filters(dir));
        // The same user on the read-write socket is refused before any call (the file mode opened so that only the peer check stands).
        File.SetUnixFileMode(daemon.Socket, (UnixFileMode)0b110_110_110);
        Assert.Equal(["closed"], RunAs(65534, daemon.Socket, "open", "define:rw-probe"));
        Assert.Equal(before, Filters(dir));
        Assert.Contains(daemon.Lines, l => l.Contains("refused: pid", StringComparison.Ordinal) && l.Contains("uid 65534", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task AMemberOfTheConfiguredGroupMayChangeAndAnotherUserMayNot()
    {
        RequireTools();
        var group = TestNamespace.Run("getent", "group", "nogroup");
        Requirement.Require("tools", group.ExitCode == 0, "the group nogroup does not exist");
        var gid = uint.Parse(group.StandardOutput.Split(':')[2], System.Globalization.CultureInfo.InvariantCulture);
        using var dir = new TempDirectory("nwfilterd-group");
        using var ns = new TestNamespace();
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name, "--group", "nogroup");
        // The kernel lets the group in (mode 0660, group nogroup); the peer check agrees.
        Assert.Equal((UnixFileMode)0b110_110_000, File.GetUnixFileMode(daemon.Socket));
        Directory.CreateDirectory(dir.Combine("config"));

        // Defined: the reply is the filter's reference, whose first word is the length of its name (9).
        Assert.Equal(["open 0 -", "define:grp-probe 0 9"], RunAs(gid, daemon.Socket, "open", "define:grp-probe"));
        Assert.Contains("grp-probe.xml", Filters(dir));

        // Another group: refused, whatever the file mode says.
        File.SetUnixFileMode(daemon.Socket, (UnixFileMode)0b110_110_110);
        var other = gid == 65533 ? 65532u : 65533u;
        Assert.Equal(["closed"], RunAs(other, daemon.Socket, "open", "define:other-probe"));
        Assert.DoesNotContain("other-probe.xml", Filters(dir));
    }

    [SkippableFact]
    public async Task OneUserCannotFillEveryConnectionSlotAndRootIsNeverKeptOut()
    {
        RequireTools();
        using var dir = new TempDirectory("nwfilterd-slots");
        using var ns = new TestNamespace();
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name, "--read-only-socket", dir.Combine("sock-ro"));
        // nobody opens 40 connections to the read-only socket at once and asks AUTH_LIST on each, then holds them
        // until its standard input closes.
        const string hog = """
            import socket, struct, sys
            socks = [socket.socket(socket.AF_UNIX) for i in range(40)]
            for s in socks: s.connect(sys.argv[1])
            ok = closed = 0
            for s in socks:
                try:
                    s.sendall(struct.pack('>7I', 28, 0x20008086, 1, 66, 0, 1, 0))
                    if s.recv(4): ok += 1
                    else: closed += 1
                except (ConnectionResetError, BrokenPipeError): closed += 1
            print(ok, closed, flush=True)
            sys.stdin.read()
            """;
        var info = new ProcessStartInfo("setpriv") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", hog, dir.Combine("sock-ro") })
        {
            info.ArgumentList.Add(a);
        }
        using var hogger = Process.Start(info)!;
        const int perUser = NwFilter.Daemon.Server.UnixSocketServer.DefaultMaxPerUser;
        try
        {
            var counts = await hogger.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal($"{perUser} {40 - perUser}", counts);
            Assert.Contains(daemon.Lines, l => l.Contains($"uid 65534 gid 65534 holds {perUser} connections already", StringComparison.Ordinal));
            // While nobody holds its connections, root is served on both sockets.
            using var root = await new SocketClient(daemon.Socket).HandshakeAsync();
            Assert.True((await root.CallAsync(P.ConnectNumOfNwFilters)).Reader().ReadInt32() >= 20);
            using var rootRo = await new SocketClient(dir.Combine("sock-ro")).HandshakeAsync();
            Assert.True((await rootRo.CallAsync(P.ConnectNumOfNwFilters)).Reader().ReadInt32() >= 20);
        }
        finally
        {
            hogger.StandardInput.Close();
            if (!hogger.WaitForExit(10_000))
            {
                hogger.Kill();
            }
        }
    }

    [Fact]
    public async Task AClientThatTricklesARequestIsClosedAfterTheTimeoutAndAnIdleOneIsNot()
    {
        using var dir = new TempDirectory("nwfilterd-slow");
        TestNamespace? ns = StoreLocation.IsRoot ? new TestNamespace() : null;
        using var _ = ns;
        var gid = TestNamespace.Run("id", "-g").StandardOutput.Trim();
        await using var daemon = await DaemonProcess.StartAsync(dir, ns?.Name, ns is null ? ["--group", gid, "--request-timeout", "2"] : ["--request-timeout", "2"]);
        using var idle = await new SocketClient(daemon.Socket).HandshakeAsync();

        using var slow = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        slow.Connect(new UnixDomainSocketEndPoint(daemon.Socket));
        var clock = Stopwatch.StartNew();
        slow.Send([0, 0, 0, 28, 0x20, 0x00]); // a length word and two bytes of a 28-byte message, then nothing
        slow.ReceiveTimeout = 20_000;
        var n = slow.Receive(new byte[16]);
        clock.Stop();
        Assert.Equal(0, n); // closed without an answer
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 15);
        // The log line is written as the server closes; give the output pipe a moment.
        for (var i = 0; i < 50 && !daemon.Lines.Any(l => l.Contains("closed: a message was not complete", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(100);
        }
        Assert.Contains(daemon.Lines, l => l.Contains("closed: a message was not complete 2 s after its first byte came", StringComparison.Ordinal));

        // The idle connection (longer idle than the timeout by now) still works: idle is no offence.
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        var r = (await idle.CallAsync(P.ConnectNumOfNwFilters)).Reader();
        Assert.True(r.ReadInt32() >= 20);
    }
}
