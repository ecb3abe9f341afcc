using System.Collections.Immutable;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;

namespace NwFilter.Core.Trace.Kernel;

/// <summary>
/// A live trace of one bound port: a table of its own (<c>bridge nwfilter-trace</c>) sets <c>meta nftrace</c> on the
/// port's frames (prerouting for frames from the VM, forward and output for frames to it, each hook just before the
/// filtering ones: NwFilter's own, ebtables' nat chains, and the iptables chains br_netfilter runs later), and
/// <c>nft -a monitor trace</c>, run as a child process in the namespace, reports what the kernel did. Each event of
/// the port's filtering rules is mapped back to its rule instance by the backend's <see cref="ILiveTraceMapper"/>:
/// nftables through the provenance comment, EbIpTables (nft-based tools) through the rule's chain and handle.
/// The table is removed on dispose (Ctrl+C, timeout, error); one left by a killed process is removed at the next start.
/// </summary>
internal sealed partial class NftLiveTrace : IAsyncDisposable
{
    private readonly string? _namespace;
    private readonly ILiveTraceMapper _mapper;
    private readonly Process _monitor;
    private readonly Channel<NftTraceEvent> _events = Channel.CreateUnbounded<NftTraceEvent>();
    private bool _disposed;

    private NftLiveTrace(string? networkNamespace, ILiveTraceMapper mapper, Process monitor)
    {
        _namespace = networkNamespace;
        _mapper = mapper;
        _monitor = monitor;
    }

    /// <summary>How long a packet's trace may be quiet before it counts as ended without a drop (it passed).</summary>
    public static TimeSpan QuietTime { get; set; } = TimeSpan.FromMilliseconds(300);

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,15}$")]
    private static partial Regex PortName();

    /// <summary>Removes a trace table a killed trace left behind; true when there was one.</summary>
    public static async Task<bool> RemoveLeftoversAsync(string? networkNamespace, CancellationToken cancellationToken = default)
    {
        var listing = await Nft(networkNamespace, ["list", "tables"], null, cancellationToken).ConfigureAwait(false);
        if (!listing.Contains($"table bridge {NftTraceEvents.TraceTable}", StringComparison.Ordinal))
        {
            return false;
        }
        await Nft(networkNamespace, ["delete", "table", "bridge", NftTraceEvents.TraceTable], null, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Starts the monitor, then adds the trace rules for <paramref name="portDevice"/> (an nftables binding).</summary>
    public static async Task<NftLiveTrace> StartAsync(string? networkNamespace, string portDevice, ImmutableArray<RuleInstance> instances, CancellationToken cancellationToken = default) =>
        await StartAsync(networkNamespace, portDevice, instances, LiveTraceMatch.All, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Starts a trace of the packets of <paramref name="portDevice"/> (an nftables binding, compiled from
    /// <paramref name="instances"/>) that <paramref name="match"/> selects (its match and directions).
    /// </summary>
    public static async Task<NftLiveTrace> StartAsync(string? networkNamespace, string portDevice, ImmutableArray<RuleInstance> instances, LiveTraceMatch match, CancellationToken cancellationToken = default)
    {
        CheckPort(portDevice);
        return await StartAsync(networkNamespace, portDevice, new NftCommentTraceMapper(portDevice, instances), match, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a trace of the packets of <paramref name="portDevice"/> that <paramref name="match"/> selects, for a binding
    /// of <paramref name="backend"/> compiled as <paramref name="ruleset"/> (for EbIpTables: with its commands,
    /// <see cref="Ruleset.Commands"/>, as <see cref="RulesetBuilder"/> builds them for that backend).
    /// EbIpTables bindings are refused (<see cref="TraceCodes.LiveNotTraceable"/>) unless their tools are the nf_tables variants.
    /// </summary>
    public static async Task<NftLiveTrace> StartAsync(string? networkNamespace, string portDevice, Ruleset ruleset, FirewallBackendKind backend, LiveTraceMatch match,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ruleset);
        CheckPort(portDevice);
        ILiveTraceMapper mapper = backend switch
        {
            FirewallBackendKind.Nftables => new NftCommentTraceMapper(portDevice, ruleset.Instances),
            FirewallBackendKind.EbIpTables => await XtablesTraceMapper.CreateAsync(networkNamespace, portDevice, ruleset.Commands, null, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "no live trace mapper for this backend"),
        };
        return await StartAsync(networkNamespace, portDevice, mapper, match, cancellationToken).ConfigureAwait(false);
    }

    private static void CheckPort(string portDevice)
    {
        if (!PortName().IsMatch(portDevice))
        {
            throw new NwFilterException(Diagnostic.Error("TracePortNotTraceable", $"The port name '{portDevice}' cannot be traced live (letters, digits, '_', '.', '-' only).", DiagnosticCategory.InvalidArgument));
        }
    }

    /// <summary>Starts a trace of the port's packets that <paramref name="match"/> selects, its events read by <paramref name="mapper"/>.</summary>
    private static async Task<NftLiveTrace> StartAsync(string? networkNamespace, string portDevice, ILiveTraceMapper mapper, LiveTraceMatch match, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(match);
        await RemoveLeftoversAsync(networkNamespace, cancellationToken).ConfigureAwait(false);
        // -a: each rule event carries its handle (the EbIpTables mapper finds the rule by it; comments are read as before).
        var start = Wrap(networkNamespace, ["-a", "monitor", "trace"]);
        var info = new ProcessStartInfo(start.Program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in start.Arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var monitor = Process.Start(info) ?? throw new InvalidOperationException("nft monitor did not start");
        var trace = new NftLiveTrace(networkNamespace, mapper, monitor);
        _ = Task.Run(trace.PumpAsync, CancellationToken.None);
        try
        {
            // The monitor subscribes as it starts; give it a moment before packets are marked.
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            var t = NftTraceEvents.TraceTable;
            var only = match.Expression.Length == 0 ? "" : match.Expression + " ";
            var fromVm = match.Direction is null or TraceDirection.Out && !match.FromHostOnly;
            var toVm = match.Direction is null or TraceDirection.In;
            var script = string.Join('\n', new[]
            {
                $"add table bridge {t}",
                $"add chain bridge {t} from-vm {{ type filter hook prerouting priority -301; }}",
                $"add chain bridge {t} to-vm {{ type filter hook forward priority -201; }}",
                $"add chain bridge {t} to-vm-local {{ type filter hook output priority -201; }}",
                fromVm ? $"add rule bridge {t} from-vm iifname \"{portDevice}\" {only}meta nftrace set 1" : "",
                toVm && !match.FromHostOnly ? $"add rule bridge {t} to-vm oifname \"{portDevice}\" {only}meta nftrace set 1" : "",
                toVm ? $"add rule bridge {t} to-vm-local oifname \"{portDevice}\" {only}meta nftrace set 1" : "",
            }.Where(l => l.Length > 0)) + "\n";
            await Nft(networkNamespace, ["-f", "-"], script, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await trace.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return trace;
    }

    private async Task PumpAsync()
    {
        try
        {
            while (await _monitor.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (NftTraceEvents.Parse(line) is { } e)
                {
                    _events.Writer.TryWrite(e);
                }
            }
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    /// <summary>
    /// The steps of the port's packets as the kernel reports them, each packet ending with its decision (Drop or Reject at
    /// the rule that did it; Accept when its trace went quiet without one), until <paramref name="count"/> packets or
    /// <paramref name="timeout"/>.
    /// </summary>
    public async IAsyncEnumerable<TraceStep> ReadAsync(int count, TimeSpan timeout, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var open = new Dictionary<string, (List<TraceStep> Steps, DateTime Last, int Number)>(StringComparer.Ordinal);
        var subjects = new Dictionary<string, TracePacket>(StringComparer.Ordinal);
        var decided = new HashSet<string>(StringComparer.Ordinal);
        var packets = 0;
        var stepNumber = 0;
        while (packets < count)
        {
            NftTraceEvent? e = null;
            try
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
                quiet.CancelAfter(QuietTime);
                e = await _events.Reader.ReadAsync(quiet.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Quiet or deadline: fall through to close quiet packets.
            }
            catch (ChannelClosedException)
            {
                yield break;
            }

            if (e is not null && e.Kind == "packet" && !subjects.ContainsKey(e.Id)
                && NftTraceEvents.Packet(e.Packet, e.Chain == "from-vm" ? TraceDirection.Out : TraceDirection.In) is { } subject)
            {
                subjects[e.Id] = subject;
            }
            if (e is not null && !decided.Contains(e.Id) && _mapper.IsPorts(e))
            {
                if (!open.TryGetValue(e.Id, out var packet))
                {
                    packet = ([], DateTime.UtcNow, open.Count + packets + 1);
                }
                if (await _mapper.StepAsync(e, cancellationToken).ConfigureAwait(false) is { } step)
                {
                    if (packet.Steps.Count == 0 && subjects.TryGetValue(e.Id, out var first) && first.Direction != step.PacketDirection)
                    {
                        // The packet event's chain tells the direction only in the trace table's own chains; a packet to
                        // the host is traced again from the ip family's input (EbIpTables' HI rules): its port chain says.
                        subjects[e.Id] = first with { Direction = step.PacketDirection };
                    }
                    step = step with { Step = ++stepNumber, Packet = packet.Number, Subject = subjects.GetValueOrDefault(e.Id) };
                    packet.Steps.Add(step);
                    yield return step;
                    if (step.Verdict is TraceVerdict.Drop or TraceVerdict.Reject)
                    {
                        open.Remove(e.Id);
                        decided.Add(e.Id);
                        subjects.Remove(e.Id);
                        packets++;
                        yield return Decision(step, ++stepNumber);
                        continue;
                    }
                }
                open[e.Id] = (packet.Steps, DateTime.UtcNow, packet.Number);
            }

            foreach (var (id, packet) in open.Where(p => DateTime.UtcNow - p.Value.Last >= QuietTime).ToList())
            {
                open.Remove(id);
                decided.Add(id);
                subjects.Remove(id);
                if (packet.Steps.Count == 0)
                {
                    continue;
                }
                packets++;
                var last = packet.Steps.LastOrDefault(s => s.Verdict is TraceVerdict.Accept or TraceVerdict.Return) ?? packet.Steps[^1];
                yield return Decision(last, ++stepNumber) with { Verdict = TraceVerdict.Accept, Reason = "Kernel: the packet passed NwFilter's chains." };
                if (packets >= count)
                {
                    yield break;
                }
            }
            if (deadline.IsCancellationRequested)
            {
                yield break;
            }
        }
    }

    private static TraceStep Decision(TraceStep by, int number) => by with
    {
        Step = number,
        Kind = TraceStepKind.Decision,
        Reason = $"Kernel: {by.Verdict} by {by.Filter} priority {by.Priority} in {by.Chain}.",
    };

    /// <summary>Ends the monitor as a killed process would, leaving the trace table behind (for the leftover test).</summary>
    internal void KillMonitorForTest()
    {
        _disposed = true;
        _monitor.Kill(entireProcessTree: true);
        _monitor.WaitForExit();
        _monitor.Dispose();
    }

    /// <summary>Removes the trace table and ends the monitor.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            await Nft(_namespace, ["delete", "table", "bridge", NftTraceEvents.TraceTable], null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (NwFilterException)
        {
            // Already gone (never added, or removed by someone else): nothing is left behind either way.
        }
        finally
        {
            try
            {
                _monitor.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It had ended.
            }
            _monitor.Dispose();
        }
    }

    private static ProcessRequest Wrap(string? networkNamespace, string[] arguments)
    {
        var request = new ProcessRequest(FirewallTools.Locate("nft") ?? "nft", arguments);
        return networkNamespace is null ? request : NetworkNamespace.Wrap(request, networkNamespace);
    }

    private static async Task<string> Nft(string? networkNamespace, string[] arguments, string? input, CancellationToken cancellationToken)
    {
        var request = Wrap(networkNamespace, arguments) with { StandardInput = input, Timeout = TimeSpan.FromSeconds(30) };
        var result = await ProcessRunner.Default.RunAsync(request, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new NwFilterException(Diagnostic.Error("TraceNftFailed", $"nft {string.Join(' ', arguments)} failed: {result.StandardError.Trim()}", DiagnosticCategory.InvalidOperation));
        }
        return result.StandardOutput;
    }
}
