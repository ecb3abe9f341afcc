using NwFilter.Core.Diagnostics;
using NwFilter.Core.Lowering;
using NwFilter.Core.Model;
using static NwFilter.Core.Backends.EbIpTables.RuleValues;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// Prints one lowered Ethernet-layer rule as its ebtables command: <c>--concurrent -t nat -A CHAIN</c>, the protocol's
/// header, the matches in the lowered order, <c>-j TARGET</c>. The semantics (which side, what a reversed copy swaps,
/// the verdict) are <see cref="RuleLowering"/>'s; only ebtables syntax is decided here: option names (a reversed
/// copy's swapped fields keep their attribute's position, so the option names swap in place), the <c>!</c> after the
/// option name, numbers in decimal or <c>0x%x</c>, a missing ARP mask printed as <c>/32</c>, and no comment (ebtables
/// has no comment match; libvirt prints none).
/// </summary>
internal static class EbtablesRuleText
{
    /// <summary>A rule drops by an NDP field (<c>ndtarget</c>, <c>ndlladdr</c>), which ebtables cannot test.</summary>
    public const string EbtablesNdpUnsupported = "EbtablesNdpUnsupported";

    public static FirewallCommand Build(LoweredRule rule, string chain)
    {
        var args = new List<string>(24) { "--concurrent", "-t", "nat", "-A", chain };
        var header = rule.Protocol switch
        {
            ProtocolKind.None or ProtocolKind.Mac => null,
            ProtocolKind.Vlan => "0x8100",
            ProtocolKind.Stp => null,
            ProtocolKind.Arp => "0x806",
            ProtocolKind.Rarp => "0x8035",
            ProtocolKind.Ip => "ipv4",
            ProtocolKind.Ipv6 => "ipv6",
            _ => throw new ArgumentException($"{rule.Protocol} is not an Ethernet-layer protocol.", nameof(rule)),
        };
        var headerWritten = false;
        foreach (var match in rule.Matches)
        {
            if (!headerWritten && match.Field is not (MatchField.SourceMac or MatchField.DestinationMac))
            {
                Header(args, rule.Protocol, header);
                headerWritten = true;
            }
            Match(args, rule.Protocol, match);
        }
        if (!headerWritten)
        {
            Header(args, rule.Protocol, header);
        }
        if (rule.Icmpv6 is { } icmp)
        {
            args.Add("--ip6-icmp-type");
            if (icmp.Negated)
            {
                args.Add("!");
            }
            args.Add($"{icmp.TypeLow}:{icmp.TypeHigh}/{icmp.CodeLow}:{icmp.CodeHigh}");
        }
        if (rule.Ndp is not null && rule.Verdict is not (LoweredVerdict.Return or LoweredVerdict.Accept or LoweredVerdict.Continue))
        {
            // ebtables' ip6 match ends at the ICMPv6 type and code. A rule that lets an NDP message pass may be written
            // without the NDP test (it then lets every such message pass, libvirt's own reach); one that drops cannot.
            var attribute = rule.Ndp.Target is not null ? "ndtarget" : "ndlladdr";
            throw new NwFilterException(Diagnostic.Error(EbtablesNdpUnsupported,
                $"The ipv6 rule drops by {attribute}, which ebtables cannot test (its ip6 match stops at the ICMPv6 type); use the nftables backend for this filter, or let the rule return or accept.",
                DiagnosticCategory.InvalidData) with { Element = "ipv6", Attribute = attribute });
        }
        args.AddRange(["-j", Target(rule.Verdict)]);
        return new FirewallCommand(FirewallCommand.Ebtables, [.. args]) { Origin = rule.Origin };
    }

    /// <summary>The protocol's header, after the Ethernet addresses: <c>-p TYPE</c>, or STP's group address.</summary>
    private static void Header(List<string> args, ProtocolKind protocol, string? header)
    {
        if (header is not null)
        {
            args.AddRange(["-p", header]);
        }
        else if (protocol == ProtocolKind.Stp)
        {
            args.AddRange(["-d", ChainNames.StpGroupAddress]);
        }
    }

    public static string Target(LoweredVerdict verdict) => verdict switch
    {
        LoweredVerdict.Accept => "ACCEPT",
        LoweredVerdict.Drop => "DROP",
        LoweredVerdict.Return => "RETURN",
        LoweredVerdict.Continue => "CONTINUE",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "ebtables has no such target (the lowering maps reject to drop)."),
    };

    private static void Match(List<string> args, ProtocolKind protocol, LoweredMatch m)
    {
        var ip6 = protocol == ProtocolKind.Ipv6;
        switch (m.Field)
        {
            case MatchField.SourceMac: Option(args, m, "-s", MacWithMask(m)); break;
            case MatchField.DestinationMac: Option(args, m, "-d", MacWithMask(m)); break;
            case MatchField.EtherType: Option(args, m, "-p", Hex(m.Value)); break;
            case MatchField.VlanId: Option(args, m, "--vlan-id", Decimal(m.Value)); break;
            case MatchField.VlanEncapsulation: Option(args, m, "--vlan-encap", Decimal(m.Value)); break;
            case MatchField.SourceIp: Option(args, m, ip6 ? "--ip6-source" : "--ip-source", IpWithPrefix(m)); break;
            case MatchField.DestinationIp: Option(args, m, ip6 ? "--ip6-destination" : "--ip-destination", IpWithPrefix(m)); break;
            case MatchField.IpProtocol: Option(args, m, ip6 ? "--ip6-protocol" : "--ip-protocol", Decimal(m.Value)); break;
            case MatchField.SourcePort: Option(args, m, ip6 ? "--ip6-source-port" : "--ip-source-port", Range(m)); break;
            case MatchField.DestinationPort: Option(args, m, ip6 ? "--ip6-destination-port" : "--ip-destination-port", Range(m)); break;
            case MatchField.TosByte: Option(args, m, "--ip-tos", Hex(m.Value)); break;
            case MatchField.ArpHardwareType: Option(args, m, "--arp-htype", Decimal(m.Value)); break;
            case MatchField.ArpOpcode: Option(args, m, "--arp-opcode", Decimal(m.Value)); break;
            case MatchField.ArpProtocolType: Option(args, m, "--arp-ptype", Hex(m.Value)); break;
            case MatchField.ArpSourceIp: Option(args, m, "--arp-ip-src", ArpIp(m)); break;
            case MatchField.ArpDestinationIp: Option(args, m, "--arp-ip-dst", ArpIp(m)); break;
            case MatchField.ArpSourceMac: Option(args, m, "--arp-mac-src", Address(m.Value)); break;
            case MatchField.ArpDestinationMac: Option(args, m, "--arp-mac-dst", Address(m.Value)); break;
            case MatchField.ArpGratuitous:
                if (m.Negated)
                {
                    args.Add("!");
                }
                args.Add("--arp-gratuitous");
                break;
            case MatchField.StpType: Option(args, m, "--stp-type", Decimal(m.Value)); break;
            case MatchField.StpFlags: Option(args, m, "--stp-flags", Decimal(m.Value)); break;
            case MatchField.StpRootPriority: Option(args, m, "--stp-root-pri", Range(m)); break;
            case MatchField.StpRootAddress: Option(args, m, "--stp-root-addr", MacWithMask(m)); break;
            case MatchField.StpRootCost: Option(args, m, "--stp-root-cost", Range(m)); break;
            case MatchField.StpSenderPriority: Option(args, m, "--stp-sender-prio", Range(m)); break;
            case MatchField.StpSenderAddress: Option(args, m, "--stp-sender-addr", MacWithMask(m)); break;
            case MatchField.StpPort: Option(args, m, "--stp-port", Range(m)); break;
            case MatchField.StpMessageAge: Option(args, m, "--stp-msg-age", Range(m)); break;
            case MatchField.StpMaxAge: Option(args, m, "--stp-max-age", Range(m)); break;
            case MatchField.StpHelloTime: Option(args, m, "--stp-hello-time", Range(m)); break;
            case MatchField.StpForwardDelay: Option(args, m, "--stp-forward-delay", Range(m)); break;
            default:
                throw new ArgumentException($"{m.Field} is not an ebtables match.", nameof(m));
        }
    }

    /// <summary><c>LO[:HI]</c> in decimal.</summary>
    private static string Range(LoweredMatch m) => m.Extra is { } high ? $"{Decimal(m.Value)}:{Decimal(high)}" : Decimal(m.Value);

    /// <summary><c>ADDR[/MASK]</c>, both in address form (MACs).</summary>
    private static string MacWithMask(LoweredMatch m) => m.Extra is { } mask ? $"{Address(m.Value)}/{Address(mask)}" : Address(m.Value);

    /// <summary><c>IP[/PREFIX]</c>.</summary>
    private static string IpWithPrefix(LoweredMatch m) => m.Extra is { } mask ? $"{Address(m.Value)}/{Prefix(mask)}" : Address(m.Value);

    /// <summary><c>IP/PREFIX</c>: libvirt always prints the ARP prefix, 32 when none applies.</summary>
    private static string ArpIp(LoweredMatch m) => $"{Address(m.Value)}/{(m.Extra is { } mask ? Prefix(mask) : "32")}";

    /// <summary><c>OPT [!] VALUE</c>: in ebtables the <c>!</c> follows the option name.</summary>
    private static void Option(List<string> args, LoweredMatch m, string option, string value)
    {
        args.Add(option);
        if (m.Negated)
        {
            args.Add("!");
        }
        args.Add(value);
    }
}
