using System.Management.Automation;
using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Runtime;
using NwFilter.Core.Schema;
using NwFilter.Core.Trace;

namespace NwFilter.Commands;

/// <summary>
/// Shows why a packet passes or drops: the rules of a binding (or of a filter with parameters) that a described or
/// captured packet meets, each with whether it matched and why not, and the decision.
/// </summary>
/// <remarks>
/// Trace-NwFilterPacket evaluates the port's resolved rules in-process, with libvirt's semantics as both firewall
/// backends apply them: the chains from the VM (I and its sub-chains, then FI, or HI for a packet to the host) or to
/// it (FO, then O), rule priorities and chain order, protocol sub-chains, directions in/out/inout with the reversed
/// copies, connection state, return and continue. It touches no kernel: the answer holds before a filter is applied.
///
/// Each output object is a step: the chain, whether the rule matched (Verdict Accept, Drop, Reject, Return or
/// Continue; empty when it did not match), the filter, priority and direction of the rule, the rule as XML with its
/// variables bound, and the reason (the first field that did not match, or what the match did). The last object is
/// the decision: Accept, Drop or Reject, with the rule that decided.
///
/// The packet is described by parameters: -Direction (Out, from the VM, by default), -Protocol, addresses, ports, ICMP
/// type, TCP flags and connection state. The VM's side (the source of an Out packet, the destination of an In packet)
/// defaults to the binding's MAC and IP; the other side to 02:00:00:00:00:01 and 192.0.2.1 (2001:db8::1). Or the
/// packets are read from a classic pcap file (-Path; tcpdump -w), each traced in turn; a frame from the VM's MAC is
/// Out, any other In, unless -Direction says otherwise.
///
/// With -Live, the port's real packets are traced in the kernel instead: a table of the trace's own sets nftrace on the
/// port's frames, nft monitor trace reports each rule the packet hit, and each is mapped back to its filter and rule;
/// each packet ends with its decision. On an nftables binding the rule is found through its provenance comment; on
/// an EbIpTables binding (the nft-based ebtables/iptables tools, whose rules are nf_tables rules) through its chain
/// and position, which the binding's compiled commands give: libvirt's rules are not changed.
///
/// Live steps name the chains as the simulation does (I, I-ipv4-ip, O, FI, FO, HI) on both backends. Legacy xtables
/// tools cannot be traced and are refused (TraceLiveNotTraceable). A live trace stops after -Count packets or
/// -TimeoutSec seconds, and removes its table on Ctrl+C, timeout and error (and a table a killed
/// trace left behind at its next start). Not simulated (said in the step's reason): ipset membership,
/// TCP options, connlimit's connection count, the contents of VLAN and STP frames.
///
/// With -Live the packet fields given select which packets are traced, as an nft match in the trace table: -Direction,
/// -Protocol, -SourceMac, -DestinationMac, -EtherType, the addresses, the ports, -IcmpType, -IcmpCode, -TcpFlags (the
/// exact set), -Dscp, -ArpOpcode and -FromHost; a field not given matches any value, and no field at all traces every
/// packet of the port. A field that cannot be read or does not fit the protocol is refused, naming it.
/// </remarks>
/// <example>
/// <code>Trace-NwFilterPacket -PortDevice vnet0 -Protocol tcp -DestinationAddress 10.0.0.9 -DestinationPort 22</code>
/// <para>Traces a TCP SYN from the VM behind vnet0 to 10.0.0.9 port 22.</para>
/// </example>
/// <example>
/// <code>Trace-NwFilterPacket -Filter clean-traffic -MacAddress 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5' } -Protocol arp -SourceAddress 10.0.0.99 | Select-Object -Last 1</code>
/// <para>Shows which rule drops an ARP packet with a forged sender address, without any binding.</para>
/// </example>
/// <example>
/// <code>Trace-NwFilterPacket -PortDevice vnet0 -Live -Count 5 -TimeoutSec 20 | Where-Object Kind -eq Decision</code>
/// <para>Shows the kernel's verdict on the next five packets of vnet0 (an nftables or an EbIpTables binding).</para>
/// </example>
/// <example>
/// <code>Trace-NwFilterPacket -PortDevice vnet0 -Live -Direction In -Protocol tcp -DestinationPort 22 -Count 1 | Select-Object -Last 1</code>
/// <para>Waits for the next SSH packet to the VM behind vnet0 and shows the rule that decided it.</para>
/// </example>
/// <example>
/// <code>Trace-NwFilterPacket -PortDevice vnet0 -Path ./vnet0.pcap | Where-Object Kind -eq Decision</code>
/// <para>Shows the fate of every captured packet.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Trace, "NwFilterPacket", DefaultParameterSetName = BindingSet)]
[OutputType(typeof(TraceStep))]
public sealed class TraceNwFilterPacketCommand : NwFilterCmdlet
{
    private const string BindingSet = "Binding";
    private const string FilterSet = "Filter";

    /// <summary>The port device whose binding is traced, such as vnet0.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = BindingSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PortDeviceCompleter))]
    public string PortDevice { get; set; } = "";

    /// <summary>The network namespace of the binding (default: the current one).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = BindingSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(NetworkNamespaceCompleter))]
    public string? NetworkNamespace { get; set; }

    /// <summary>A filter to trace without a binding (from the store or built in).</summary>
    [Parameter(Mandatory = true, ParameterSetName = FilterSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Filter { get; set; } = "";

    /// <summary>The VM's MAC address for -Filter (the variable MAC and the VM's side of the packet).</summary>
    [Parameter(ParameterSetName = FilterSet)]
    [MacAddressTransformation]
    public PhysicalAddress? MacAddress { get; set; }

    /// <summary>The filter's variables for -Filter, such as @{ IP = '10.0.0.5' }.</summary>
    [Parameter(ParameterSetName = FilterSet)]
    [Alias("Parameters")]
    [ParameterSetTransformation]
    public ParameterSet Parameter { get; set; } = ParameterSet.Empty;

    /// <summary>A classic pcap file (tcpdump -w) whose Ethernet frames are traced one by one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Out: sent by the VM (the default); In: sent to the VM.</summary>
    [Parameter]
    public TraceDirection? Direction { get; set; }

    /// <summary>The protocol: tcp (the default), udp, icmp, arp, rarp, ip, ipv6, icmpv6, sctp, udplite, igmp, esp, ah, mac, or a -ipv6 form.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(ProtocolCompleter))]
    public string Protocol { get; set; } = "tcp";

    /// <summary>The Ethernet source address.</summary>
    [Parameter]
    public string? SourceMac { get; set; }

    /// <summary>The Ethernet destination address.</summary>
    [Parameter]
    public string? DestinationMac { get; set; }

    /// <summary>The Ethernet type of a -Protocol mac frame, such as 0x88b5.</summary>
    [Parameter]
    public string? EtherType { get; set; }

    /// <summary>The source IP address (ARP: the sender's).</summary>
    [Parameter]
    public string? SourceAddress { get; set; }

    /// <summary>The destination IP address (ARP: the target's).</summary>
    [Parameter]
    public string? DestinationAddress { get; set; }

    /// <summary>The source port (default 49152).</summary>
    [Parameter]
    public int? SourcePort { get; set; }

    /// <summary>The destination port (needed for tcp, udp, sctp, udplite).</summary>
    [Parameter]
    public int? DestinationPort { get; set; }

    /// <summary>The ICMP or ICMPv6 type (default: echo request).</summary>
    [Parameter]
    public int? IcmpType { get; set; }

    /// <summary>The ICMP or ICMPv6 code (default 0).</summary>
    [Parameter]
    public int? IcmpCode { get; set; }

    /// <summary>The TCP flags, such as SYN or SYN,ACK (default SYN for a new connection, ACK otherwise).</summary>
    [Parameter]
    public string? TcpFlags { get; set; }

    /// <summary>The DSCP value (0-63).</summary>
    [Parameter]
    public int? Dscp { get; set; }

    /// <summary>The ARP opcode (1 request, 2 reply).</summary>
    [Parameter]
    public int? ArpOpcode { get; set; }

    /// <summary>The connection state of an IP packet: New (default for a SYN and anything not TCP), Established, Related, Invalid.</summary>
    [Parameter]
    public TraceConnectionState? ConnectionState { get; set; }

    /// <summary>The side of the connection: Original (default) or Reply.</summary>
    [Parameter]
    public TraceConnectionDirection? ConnectionDirection { get; set; }

    /// <summary>The packet from the VM is addressed to the host itself (it meets HI instead of FI).</summary>
    [Parameter]
    public SwitchParameter ToHost { get; set; }

    /// <summary>The packet to the VM is sent by the host itself (it meets no forward chain).</summary>
    [Parameter]
    public SwitchParameter FromHost { get; set; }

    /// <summary>Trace the port's real packets in the kernel (nftables bindings, and EbIpTables bindings with the nft-based tools) instead of simulating one.</summary>
    [Parameter(ParameterSetName = BindingSet)]
    public SwitchParameter Live { get; set; }

    /// <summary>With -Live: stop after this many packets (default 10).</summary>
    [Parameter(ParameterSetName = BindingSet)]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; } = 10;

    /// <summary>With -Live: stop after this many seconds (default 30).</summary>
    [Parameter(ParameterSetName = BindingSet)]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 30;

    private static readonly string[] DescriptionParameters =
        ["Protocol", "SourceMac", "DestinationMac", "EtherType", "SourceAddress", "DestinationAddress", "SourcePort", "DestinationPort",
         "IcmpType", "IcmpCode", "TcpFlags", "Dscp", "ArpOpcode", "FromHost"];

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        object target = ParameterSetName switch
        {
            BindingSet => PortDevice,
            FilterSet => Filter,
            _ => throw new InvalidOperationException("unknown parameter set " + ParameterSetName),
        };
        try
        {
            if (Resolve(out var mac, out var addresses, out var port) is not { } resolution)
            {
                return;
            }
            if (Live)
            {
                TraceLive(resolution);
                return;
            }
            if (Path is null)
            {
                var packet = TracePacketBuilder.Build(Describe(), mac, addresses);
                WriteObject(PacketTracer.Trace(resolution, packet, port).Steps, enumerateCollection: true);
                return;
            }
            TraceCapture(resolution, mac, port);
        }
        catch (NwFilterException e)
        {
            WriteError(e, target);
        }
    }

    private void TraceCapture(Resolution resolution, PhysicalAddress? mac, string? port)
    {
        if (DescriptionParameters.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey) is { } conflicting)
        {
            throw new NwFilterException(Diagnostic.Error(TraceCodes.BadPacketField,
                $"Packet field {conflicting}: the packets come from -Path; only -Direction, -ConnectionState, -ConnectionDirection and -ToHost apply to them.",
                DiagnosticCategory.InvalidArgument) with { Attribute = conflicting });
        }
        var file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (!File.Exists(file))
        {
            WriteError(new ErrorRecord(new ItemNotFoundException($"Cannot find path '{Path}' because it does not exist."), "PathNotFound", ErrorCategory.ObjectNotFound, Path));
            return;
        }
        var frames = PcapFile.ReadFrames(file);
        for (var i = 0; i < frames.Count; i++)
        {
            CancellationToken.ThrowIfCancellationRequested();
            var packet = PcapFile.Decode(frames[i], mac, Direction, ToHost, ConnectionState, ConnectionDirection, out var error);
            if (packet is null)
            {
                WriteError(Diagnostic.Error(TraceCodes.BadCapture, $"Packet {i + 1} of '{file}' is skipped: {error}") with { Source = file }, file);
                continue;
            }
            WriteObject(PacketTracer.Trace(resolution, packet, port, i + 1).Steps, enumerateCollection: true);
        }
    }

    private FilterBinding? _binding;
    private string? _bindingNamespace;
    private IFilterSource? _store;

    private void TraceLive(Resolution resolution)
    {
        if (new[] { "Path", "ConnectionState", "ConnectionDirection", "ToHost" }.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey) is { } conflicting)
        {
            throw new NwFilterException(Diagnostic.Error(TraceCodes.BadPacketField,
                $"Packet field {conflicting}: -Live traces the port's real packets, selected by the other packet fields; {conflicting} does not select them " +
                "(-Path is read by the simulation; connection state is not visible to the bridge here).",
                DiagnosticCategory.InvalidArgument) with { Attribute = conflicting });
        }
        // The packet fields given select which packets are traced (all of the port's, when none is given).
        var given = DescriptionParameters.Where(MyInvocation.BoundParameters.ContainsKey).ToHashSet(StringComparer.Ordinal);
        var match = LiveTraceMatch.From(Describe(), given, Direction, FromHost);
        // nftables maps the kernel's events through the rules' comments (the resolution is enough); EbIpTables through
        // the chain and position of each rule, which the binding's compiled commands give.
        var binding = _binding!;
        var ruleset = binding.Backend == FirewallBackendKind.Nftables
            ? new Ruleset(resolution, null, [])
            : RulesetBuilder.Build(_store!, binding.Filter, binding.PortDevice, binding.MacAddress, binding.Parameters, binding.Backend);
        var trace = Core.Trace.Kernel.NftLiveTrace.StartAsync(_bindingNamespace, binding.PortDevice, ruleset, binding.Backend, match, CancellationToken).GetAwaiter().GetResult();
        try
        {
            var steps = trace.ReadAsync(Count, TimeSpan.FromSeconds(TimeoutSec), CancellationToken).GetAsyncEnumerator(CancellationToken);
            try
            {
                while (steps.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                {
                    WriteObject(steps.Current);
                }
            }
            finally
            {
                steps.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
        {
            // Ctrl+C: the trace table goes below.
        }
        finally
        {
            trace.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private TracePacketDescription Describe() => new()
    {
        Direction = Direction ?? TraceDirection.Out,
        Protocol = Protocol,
        SourceMac = SourceMac,
        DestinationMac = DestinationMac,
        EtherType = EtherType,
        SourceAddress = SourceAddress,
        DestinationAddress = DestinationAddress,
        SourcePort = SourcePort,
        DestinationPort = DestinationPort,
        IcmpType = IcmpType,
        IcmpCode = IcmpCode,
        TcpFlags = TcpFlags,
        Dscp = Dscp,
        ArpOpcode = ArpOpcode,
        ConnectionState = ConnectionState,
        ConnectionDirection = ConnectionDirection,
        ToHost = ToHost,
        FromHost = FromHost,
    };

    /// <summary>The rules to trace: the binding's or the filter's; null after an error record.</summary>
    private Resolution? Resolve(out PhysicalAddress? mac, out IReadOnlyList<IPAddress> addresses, out string? port)
    {
        var store = FilterStoreAccess.Open();
        _store = store;
        ParameterSet parameters;
        Resolution resolution;
        if (ParameterSetName == FilterSet)
        {
            mac = MacAddress;
            port = null;
            parameters = Parameter;
            resolution = FilterResolver.Resolve(store, Filter, Parameter, MacAddress);
        }
        else
        {
            var runtime = Runtime;
            var host = NewHost();
            var status = host.Run(token => runtime.HandleAsync(new BindingStatusRequest([PortDevice], BindingAccess.Namespace(NetworkNamespace)), host, token));
            var binding = status.Bindings.FirstOrDefault(b => b.Binding.PortDevice == PortDevice)?.Binding;
            if (binding is null)
            {
                var ns = status.NetworkNamespace;
                WriteError(Diagnostic.Error(TraceCodes.NoBinding,
                    $"No binding on port {PortDevice}" + (ns is null ? "" : $" in network namespace {ns}") + ": there are no rules to trace. Use -Filter to trace a filter before binding it.",
                    DiagnosticCategory.ObjectNotFound), PortDevice);
                mac = null;
                addresses = [];
                port = null;
                return null;
            }
            _binding = binding;
            _bindingNamespace = status.NetworkNamespace;
            mac = binding.MacAddress;
            port = binding.PortDevice;
            parameters = binding.Parameters;
            resolution = FilterResolver.Resolve(store, binding.Filter, binding.Parameters, binding.MacAddress);
        }
        addresses = Addresses(parameters);
        if (resolution.Status == ResolutionStatus.NeedsIpLearning)
        {
            WriteError(Diagnostic.Error(TraceCodes.NeedsIpLearning,
                "The filter needs the VM's IP address, which is not known yet (it would be learned): trace the filter with -Filter and -Parameter @{ IP = '...' }.",
                DiagnosticCategory.ResourceUnavailable), port ?? Filter);
            return null;
        }
        return resolution;
    }

    private static List<IPAddress> Addresses(ParameterSet parameters)
    {
        var list = new List<IPAddress>();
        foreach (var name in new[] { "IP", "IPV6" })
        {
            if (!parameters.TryGetValue(name, out var values))
            {
                continue;
            }
            foreach (var value in values)
            {
                if ((TextParsers.TryParseIPv4(value, out var a) || TextParsers.TryParseIPv6(value, out a)) && a is not null)
                {
                    list.Add(a);
                }
            }
        }
        return list;
    }
}
