using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;
using NwFilter.Core.Runtime.Control;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;
using NwFilter.Daemon.Tests.TestSupport;
using P = NwFilter.Daemon.Procedures.NwFilterProcedures;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// nwfilterd's control socket (the cmdlets' door) on a real daemon process in a lab namespace: a change sent there is
/// what libvirt's RPC sees and the reverse, a redefined filter re-instantiates the bindings on the kernel, a declined
/// confirmation changes nothing, error ids come back, hostile frames are refused without stopping the daemon, and a
/// daemon that dies mid-call gives NwFilterDaemonLost with nothing half-done.
/// </summary>
public sealed class ControlSocketTests
{
    private const string Port = "vnetdk0";

    private static string FilterXml(string name, int port) =>
        $"<filter name='{name}' chain='ipv4'><rule action='drop' direction='in' priority='500'><tcp dstportstart='{port}'/></rule></filter>";

    private static Core.Model.FilterDefinition Filter(string name, int port) => NwFilterXmlReader.ReadFilter(FilterXml(name, port)).Value;

    private static Core.Model.FilterBinding Binding(string filter) =>
        Bindings.Create(Port, System.Net.NetworkInformation.PhysicalAddress.Parse("52-54-00-00-00-31"), filter, backend: Core.Model.FirewallBackendKind.EbIpTables);

    private static string Rules(string ns) =>
        string.Join('\n', TestNamespace.Run("ip", "netns", "exec", ns, "iptables-save").StandardOutput.Split('\n').Where(l => !l.StartsWith('#')));

    private static void RequireLab()
    {
        Requirement.Require("root", StoreLocation.IsRoot, "nwfilterd's firewall and namespaces need root");
        Requirement.Program("ebtables");
        Requirement.Program("iptables-save");
    }

    [SkippableFact]
    public async Task ChangesThroughTheControlSocketAreTheStateLibvirtsClientsSee()
    {
        RequireLab();
        using var dir = new TempDirectory("nwfilterd-control");
        using var ns = new TestNamespace();
        TestNamespace.AddPort(ns.Name, Port);
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name);
        var location = new StoreLocation(dir.Combine("config"), dir.Combine("state"));

        // The door: chosen for the daemon's store, refused (auto: in-process) for another one.
        using (var probe = ControlClient.Choose(location, DoorMode.Auto, daemon.ControlSocket))
        {
            Assert.NotNull(probe);
            Assert.Equal(location, probe!.Location);
        }
        Assert.Null(ControlClient.Choose(new StoreLocation(dir.Combine("other"), dir.Combine("state")), DoorMode.Auto, daemon.ControlSocket));
        var elsewhere = Assert.Throws<NwFilterException>(() => ControlClient.Choose(new StoreLocation(dir.Combine("other"), dir.Combine("state")), DoorMode.Daemon, daemon.ControlSocket));
        Assert.Equal(ControlContract.DaemonUnavailable, elsewhere.Primary.Code);

        // A filter defined through the control socket is what libvirt's RPC looks up.
        var host = new Host();
        var defined = await Send<DefineFiltersResponse>(daemon, new DefineFiltersRequest([Filter("ctl-f", 2201)]), host);
        Assert.True(defined.Succeeded, defined.Error?.Message);
        Assert.Equal(DefineOutcome.Created, defined.Items[0].Result!.Outcome);
        using var rpc = await new SocketClient(daemon.Socket).HandshakeAsync();
        var looked = await rpc.CallAsync(P.NwFilterLookupByName, Args.String("ctl-f"));
        Assert.True(looked.Ok);
        Assert.Equal(defined.Items[0].Result!.Filter.Uuid, Args.ReadFilter(looked).Uuid);

        // A binding applied through the control socket is in libvirt's binding list and its rules are on the kernel.
        var applied = await Send<BindingsResponse>(daemon, new ApplyBindingsRequest([Binding("ctl-f")]), host);
        Assert.True(applied.Succeeded, string.Join("; ", applied.Items.Select(i => i.Error?.Message)));
        Assert.Contains(host.Confirmations, c => c.Target.Contains(Port, StringComparison.Ordinal));
        var list = (await rpc.CallAsync(P.ConnectListAllNwFilterBindings, Args.ListAll())).Reader();
        Assert.Equal(1u, list.ReadUInt32());
        Assert.Equal((Port, "ctl-f"), (list.ReadString(64), list.ReadString(64)));
        Assert.Contains("--dport 2201", Rules(ns.Name));

        // Redefined through libvirt's RPC: the binding is re-instantiated, and the control socket's next define sees it.
        var uuid = defined.Items[0].Result!.Filter.Uuid;
        var redefine = await rpc.CallAsync(P.NwFilterDefineXml, Args.String(FilterXml("ctl-f", 2202).Replace("chain='ipv4'>", $"chain='ipv4'><uuid>{uuid}</uuid>", StringComparison.Ordinal)));
        Assert.True(redefine.Ok, redefine.Ok ? "" : redefine.Error.Message);
        var rules = Rules(ns.Name);
        Assert.Contains("--dport 2202", rules);
        Assert.DoesNotContain("--dport 2201", rules);
        var again = await Send<DefineFiltersResponse>(daemon, new DefineFiltersRequest([Filter("ctl-f", 2203) with { Uuid = uuid }]), host);
        Assert.True(again.Succeeded, again.Error?.Message);
        Assert.Equal(DefineOutcome.Updated, again.Items[0].Result!.Outcome);
        Assert.Contains("--dport 2203", Rules(ns.Name));
        Assert.Contains(host.Events, e => e.Id == RuntimeEventIds.BindingsReapplied);
        // Those re-applications are the daemon's own: its drift repair never takes the moment between a definition and
        // its re-application for drift (that re-applied the port once more, mid-way through the next step's reads).
        await Task.Delay(500);
        Assert.DoesNotContain(daemon.Lines, l => l.Contains("DriftFound", StringComparison.Ordinal));

        // Declined (-WhatIf): the plan comes over, nothing changes.
        var before = Rules(ns.Name);
        var whatIf = new Host { Answer = false, WantPlan = true };
        var declined = await Send<BindingsResponse>(daemon, new RemoveBindingsRequest([Port]), whatIf);
        Assert.Empty(declined.Items);
        Assert.Contains(whatIf.Plans, p => p.Contains(Port, StringComparison.Ordinal));
        Assert.Equal(before, Rules(ns.Name));
        Assert.True(File.Exists(Path.Combine(dir.Combine("state"), "bindings", Port + ".xml")) || Directory.EnumerateFiles(dir.Combine("state"), Port + ".xml", SearchOption.AllDirectories).Any());

        // Error ids come back as the runtime gives them: an item's error, and the request's.
        var missing = await Send<BindingsResponse>(daemon, new ApplyBindingsRequest([Binding("no-such-filter") with { PortDevice = "vnetdk9" }]), host);
        Assert.Equal("FilterNotFound", Assert.Single(missing.Items).Error?.Primary.Code);
        Assert.Contains(host.Events, e => e.Level == RuntimeEventLevel.Error && e.Id == "FilterNotFound" && e.Target == "vnetdk9");
        var inUse = await Send<UndefineFilterResponse>(daemon, new UndefineFilterRequest("ctl-f"), host);
        Assert.Equal("FilterInUse", inUse.Error?.Primary.Code);

        // Removed through the control socket: gone for libvirt too, and from the kernel.
        var removed = await Send<BindingsResponse>(daemon, new RemoveBindingsRequest([Port]), host);
        Assert.True(removed.Succeeded);
        Assert.Equal(0u, (await rpc.CallAsync(P.ConnectListAllNwFilterBindings, Args.ListAll())).Reader().ReadUInt32());
        Assert.DoesNotContain("--dport 2203", Rules(ns.Name));
        Assert.True((await Send<UndefineFilterResponse>(daemon, new UndefineFilterRequest("ctl-f"), host)).Succeeded);
        Assert.False((await rpc.CallAsync(P.NwFilterLookupByName, Args.String("ctl-f"))).Ok);
    }

    [SkippableFact]
    public async Task HostileControlClientsAreRefusedAndTheDaemonKeepsServing()
    {
        RequireLab();
        using var dir = new TempDirectory("nwfilterd-control-hostile");
        using var ns = new TestNamespace();
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name);
        var config = dir.Combine("config");

        async Task<string> Raw(byte[] bytes, bool hello = true, bool wait = true)
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(daemon.ControlSocket));
            await using var stream = new NetworkStream(s);
            if (hello)
            {
                await stream.WriteAsync(Frame("{\"type\":\"hello\",\"version\":1}"));
                await ControlContract.ReadAsync(stream, CancellationToken.None);
            }
            await stream.WriteAsync(bytes);
            if (!wait)
            {
                return "sent";
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                var answer = await ControlContract.ReadAsync(stream, cts.Token);
                return answer is null ? "closed" : ControlContract.TypeOf(answer) + ":" + (ControlContract.DecodeError(answer["error"])?.Primary.Code ?? "");
            }
            catch (NwFilterException)
            {
                return "closed";
            }
            catch (IOException)
            {
                return "closed";
            }
        }

        var huge = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(huge, int.MaxValue);
        Assert.Equal("closed", await Raw(huge));
        Assert.Equal("closed", await Raw(Frame("not json")));
        Assert.Equal("failure:" + ControlContract.BadMessage, await Raw(Frame("{\"type\":\"hello\",\"version\":7}"), hello: false));
        Assert.Equal("failure:" + ControlContract.BadMessage, await Raw(Frame("{\"type\":\"request\",\"request\":{\"kind\":\"FormatDisk\"}}")));
        Assert.Equal("failure:" + ControlContract.BadMessage, await Raw(Frame("{\"type\":\"request\",\"request\":{\"kind\":\"UndefineFilter\",\"name\":7}}")));
        Assert.Equal("failure:" + ControlContract.BadMessage, await Raw(Frame("{\"type\":\"request\",\"request\":{\"kind\":\"DefineFilters\",\"filters\":[\"<filter name='a'/>\"],\"expected\":[]}}")));
        // A filter that does not read strictly is refused with the reader's id, and not stored.
        Assert.StartsWith("failure:", await Raw(Frame("{\"type\":\"request\",\"request\":{\"kind\":\"DefineFilters\",\"filters\":[\"<filter name='a' chain='ipv4'><rule action='drop' direction='in'><tcp dstportstart='x'/></rule></filter>\"]}}")));
        // Half a frame, then gone; random bytes.
        Assert.Equal("sent", await Raw([0, 0, 1, 0, (byte)'{'], wait: false));
        var random = new Random(13);
        for (var i = 0; i < 50; i++)
        {
            var bytes = new byte[random.Next(1, 64)];
            random.NextBytes(bytes);
            await Raw(bytes, hello: random.Next(2) == 0, wait: false);
        }
        Assert.False(daemon.HasExited);
        Assert.False(Directory.Exists(config) && Directory.EnumerateFiles(config, "*.xml").Any());
        var host = new Host();
        var ok = await Send<DefineFiltersResponse>(daemon, new DefineFiltersRequest([Filter("after-hostile", 1)]), host);
        Assert.True(ok.Succeeded, ok.Error?.Message);
        Assert.Contains(daemon.Lines, l => l.Contains("refused: " + ControlContract.BadMessage, StringComparison.Ordinal));

        // A peer that is neither root nor in the group gets nothing.
        if (File.Exists("/usr/bin/setpriv") && File.Exists("/usr/bin/python3"))
        {
            // Let it connect, so that the peer check (not the file mode) is what refuses it.
            TestNamespace.Run("chmod", "o+x", dir.Path);
            TestNamespace.Run("chmod", "0666", daemon.ControlSocket);
            // Connects, sends a hello, prints what it gets back: nothing (the daemon closes without a word).
            var script = "import socket,struct,sys\ns=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\nb=b'{\"type\":\"hello\",\"version\":1}'\ntry:\n s.sendall(struct.pack('>I',len(b))+b);d=s.recv(64)\nexcept OSError:\n d=b''\nprint(len(d));sys.exit(0 if d else 3)";
            var result = TestNamespace.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, daemon.ControlSocket);
            Assert.True(result.ExitCode == 3, result.StandardOutput + result.StandardError);
            Assert.Contains(daemon.Lines, l => l.Contains("is not root", StringComparison.Ordinal) && l.StartsWith("control", StringComparison.Ordinal));
        }
    }

    [SkippableFact]
    public async Task ADaemonThatDiesMidCallGivesDaemonLostAndNothingHalfDone()
    {
        RequireLab();
        using var dir = new TempDirectory("nwfilterd-control-lost");
        using var ns = new TestNamespace();
        TestNamespace.AddPort(ns.Name, Port);
        await using var daemon = await DaemonProcess.StartAsync(dir, ns.Name);
        var host = new Host();
        Assert.True((await Send<DefineFiltersResponse>(daemon, new DefineFiltersRequest([Filter("lost-f", 2301)]), host)).Succeeded);
        // The daemon is killed (SIGKILL) while it waits for the confirmation of the binding.
        var killer = new Host { OnConfirm = () => Kill(daemon.ProcessId, 9) };
        var before = Rules(ns.Name);
        var lost = await Send<BindingsResponse>(daemon, new ApplyBindingsRequest([Binding("lost-f")]), killer, expectLost: true);
        Assert.Null(lost);
        Assert.Equal(before, Rules(ns.Name));
        Assert.DoesNotContain(Directory.EnumerateFiles(dir.Combine("state"), "*.xml", SearchOption.AllDirectories), f => f.EndsWith(Port + ".xml", StringComparison.Ordinal));
    }

    private static byte[] Frame(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }

    private static async Task<T> Send<T>(DaemonProcess daemon, object request, IRuntimeHost host, bool expectLost = false)
        where T : class
    {
        using var client = ControlClient.Connect(daemon.ControlSocket, TimeSpan.FromSeconds(30));
        if (!expectLost)
        {
            return await client.SendAsync<T>(request, host);
        }
        var e = await Assert.ThrowsAsync<NwFilterException>(() => client.SendAsync<T>(request, host));
        Assert.Equal(ControlContract.DaemonLost, e.Primary.Code);
        return null!;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Records what the daemon streams; answers confirmations with <see cref="Answer"/> (asking for the plan first when <see cref="WantPlan"/>).</summary>
    private sealed class Host : IRuntimeHost
    {
        private readonly ConcurrentQueue<RuntimeEvent> _events = new();

        public bool Answer { get; init; } = true;

        public bool WantPlan { get; init; }

        public Action? OnConfirm { get; init; }

        public List<RuntimeEvent> Events => [.. _events];

        public List<ConfirmationRequest> Confirmations { get; } = [];

        public List<string> Plans { get; } = [];

        public void Report(RuntimeEvent runtimeEvent) => _events.Enqueue(runtimeEvent);

        public void Progress(RuntimeProgress progress)
        {
        }

        public void LearnerStarted(LearnerStarted started)
        {
        }

        public bool Confirm(ConfirmationRequest request)
        {
            Confirmations.Add(request);
            if (WantPlan && request.Plan is { } plan)
            {
                Plans.Add(plan());
            }
            if (OnConfirm is { } action)
            {
                action();
                Thread.Sleep(500);
            }
            return Answer;
        }
    }
}
