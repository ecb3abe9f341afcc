using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NwFilter.Core.Host;
using NwFilter.Daemon.Procedures;
using NwFilter.Daemon.Protocol;

namespace NwFilter.Bench.Scenarios;

/// <summary>
/// nwfilterd through its socket (root): N clean-traffic binding creates from C concurrent connections, then single
/// creates with N loaded (each its own connection with libvirt's handshake, as a VM start does), and nwfilterd's RSS.
/// In a throw-away namespace; the bindings carry their IP (no learners), so both backends run the same work.
/// </summary>
public sealed class DaemonScenario : IScenario
{
    public string Name => "daemon";

    public string Description => "nwfilterd: creates through the socket, concurrent and with N loaded; RSS (root)";

    public int Run(string[] args)
    {
        var backend = args.FirstOrDefault(a => a.StartsWith("backend=", StringComparison.Ordinal))?[8..] ?? "EbIpTables";
        var count = int.Parse(args.FirstOrDefault(a => a.StartsWith("n=", StringComparison.Ordinal))?[2..] ?? "1000", System.Globalization.CultureInfo.InvariantCulture);
        var connections = int.Parse(args.FirstOrDefault(a => a.StartsWith("c=", StringComparison.Ordinal))?[2..] ?? "16", System.Globalization.CultureInfo.InvariantCulture);
        var singles = int.Parse(args.FirstOrDefault(a => a.StartsWith("singles=", StringComparison.Ordinal))?[8..] ?? "30", System.Globalization.CultureInfo.InvariantCulture);
        return RunAsync(backend, count, connections, singles).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string backend, int count, int connections, int singles)
    {
        var ns = $"nwfbench-d-{Environment.ProcessId}";
        var dir = Path.Combine(Path.GetTempPath(), $"nwfbench-daemon-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        Exec("ip", "netns", "add", ns);
        Process? daemon = null;
        try
        {
            Exec("ip", "-n", ns, "link", "set", "lo", "up");
            var socket = Path.Combine(dir, "sock");
            var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "netns", "exec", ns, "dotnet", Path.Combine(AppContext.BaseDirectory, "nwfilterd.dll"), "--libvirt-socket", socket, "--backend", backend, "--libvirt-binding-dir", Path.Combine(dir, "none"), "--control-socket", Path.Combine(dir, "control.sock") })
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment["NWFILTER_CONFIG_DIR"] = Path.Combine(dir, "config");
            psi.Environment["NWFILTER_STATE_DIR"] = Path.Combine(dir, "state");
            daemon = Process.Start(psi)!;
            var listening = new TaskCompletionSource();
            daemon.OutputDataReceived += (_, e) =>
            {
                if (e.Data?.StartsWith("listening on", StringComparison.Ordinal) == true)
                {
                    listening.TrySetResult();
                }
            };
            daemon.BeginOutputReadLine();
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Console.WriteLine($"nwfilterd ({backend}) in {ns}; {Measure.Machine}; RSS idle {Rss(daemon.Id) / 1024.0:0.0} MiB");

            // N creates from C connections at once.
            var next = -1;
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
            {
                using var c = await Client.OpenAsync(socket);
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    await c.CreateAsync(i);
                }
            })));
            watch.Stop();
            Console.WriteLine($"{count} creates from {connections} connections: {watch.Elapsed.TotalSeconds:0.00} s ({watch.Elapsed.TotalMilliseconds / count:0.0} ms each, {count / watch.Elapsed.TotalSeconds:0} per second)");
            Console.WriteLine($"RSS with {count} bindings: {Rss(daemon.Id) / 1024.0:0.0} MiB");

            // Single creates with N loaded: handshake + create on a fresh connection each, then delete.
            var times = new List<double>();
            for (var k = 0; k < singles; k++)
            {
                var one = Stopwatch.StartNew();
                using (var c = await Client.OpenAsync(socket))
                {
                    await c.CreateAsync(count + k);
                }
                one.Stop();
                times.Add(one.Elapsed.TotalMilliseconds);
                using var d = await Client.OpenAsync(socket);
                await d.DeleteAsync(count + k);
            }
            times.Sort();
            Console.WriteLine($"one create with {count} loaded (connect, handshake, create; {singles} runs): median {times[times.Count / 2]:0.0} ms, min {times[0]:0.0} ms, p90 {times[(int)(times.Count * 0.9)]:0.0} ms");
            return 0;
        }
        finally
        {
            if (daemon is { HasExited: false })
            {
                _ = Kill(daemon.Id, 15);
                daemon.WaitForExit(30_000);
            }
            Exec("ip", "netns", "delete", ns); // the rules go with the namespace
            Directory.Delete(dir, recursive: true);
        }
    }

    private static long Rss(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Select(l => long.Parse(l[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();

    private static void Exec(params string[] args) =>
        ProcessRunner.Default.RunAsync(new ProcessRequest(args[0], args[1..])).GetAwaiter().GetResult().EnsureSuccess();

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    internal sealed class Client : IDisposable
    {
        private readonly NetworkStream _stream;
        private readonly FrameReader _reader;
        private uint _serial;

        private Client(Socket s)
        {
            _stream = new NetworkStream(s, ownsSocket: true);
            _reader = new FrameReader(_stream);
        }

        public static async Task<Client> OpenAsync(string path)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
            var c = new Client(s);
            await c.CallAsync(NwFilterProcedures.AuthList, []);
            await c.CallAsync(NwFilterProcedures.ConnectSupportsFeature, new XdrWriter().WriteInt32(10).ToArray());
            await c.CallAsync(NwFilterProcedures.ConnectOpen, new XdrWriter().WriteOptionalString("nwfilter:///system").WriteUInt32(0).ToArray());
            return c;
        }

        public Task CreateAsync(int i) => CreateAsync(i, "vnb", learns: false);

        /// <summary>A clean-traffic binding of port PREFIXi: with its IP, or (<paramref name="learns"/>) learning it by DHCP snooping.</summary>
        public Task CreateAsync(int i, string prefix, bool learns)
        {
            var parameter = learns ? "<parameter name='CTRL_IP_LEARNING' value='dhcp'/>" : $"<parameter name='IP' value='10.{i >> 16 & 0xff}.{i >> 8 & 0xff}.{i & 0xff}'/>";
            var xml = $"<filterbinding><owner><name>vm{i}</name><uuid>{Guid.NewGuid()}</uuid></owner><portdev name='{prefix}{i}'/>" +
                $"<mac address='52:54:00:{i >> 16 & 0xff:x2}:{i >> 8 & 0xff:x2}:{i & 0xff:x2}'/><filterref filter='clean-traffic'>" +
                parameter + "</filterref></filterbinding>";
            return CallAsync(NwFilterProcedures.NwFilterBindingCreateXml, new XdrWriter().WriteString(xml).WriteUInt32(0).ToArray());
        }

        public Task DeleteAsync(int i) =>
            CallAsync(NwFilterProcedures.NwFilterBindingDelete, new XdrWriter().WriteString($"vnb{i}").WriteString("clean-traffic").ToArray());

        private async Task CallAsync(int procedure, byte[] body)
        {
            await _stream.WriteAsync(new RpcMessage(new RpcHeader(Rpc.RemoteProgram, 1, procedure, MessageType.Call, ++_serial, MessageStatus.Ok), body).Encode());
            var reply = await _reader.ReadAsync(default) ?? throw new IOException("nwfilterd closed the connection");
            if (reply.Header.Status != MessageStatus.Ok)
            {
                var r = new XdrReader(reply.Body.Span);
                r.ReadInt32();
                r.ReadInt32();
                throw new InvalidOperationException($"procedure {procedure} failed: {r.ReadOptionalString(1 << 20)}");
            }
        }

        public void Dispose() => _stream.Dispose();
    }
}
