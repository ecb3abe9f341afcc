using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using static NwFilter.Core.Backends.EbIpTables.RuleValues;
using static NwFilter.Core.Model.AttributeId;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// The ebtables command of one Ethernet-layer rule copy (6.4): <c>--concurrent -t nat -A CHAIN</c>, the protocol's
/// matches, <c>-j TARGET</c>. In ebtables the <c>!</c> follows the option name. A reversed copy (the J copy of an
/// inout rule) swaps source and destination option names, keeping their positions.
/// </summary>
internal static class EbtablesRuleText
{
    public static FirewallCommand Build(FilterRule rule, string chain, bool reverse)
    {
        var args = new List<string>(24) { "--concurrent", "-t", "nat", "-A", chain };
        switch (rule.Protocol)
        {
            case ProtocolKind.None:
                break;
            case ProtocolKind.Mac:
                EthHeader(args, rule, reverse);
                if (Get(rule, ProtocolId) is { } protocolId)
                {
                    Option(args, rule, ProtocolId, "-p", Hex(protocolId));
                }
                break;
            case ProtocolKind.Vlan:
                EthHeader(args, rule, reverse);
                args.AddRange(["-p", "0x8100"]);
                Item(args, rule, VlanId, "--vlan-id");
                Item(args, rule, EncapProtocol, "--vlan-encap");
                break;
            case ProtocolKind.Stp:
                Stp(args, rule, reverse);
                break;
            case ProtocolKind.Arp or ProtocolKind.Rarp:
                Arp(args, rule, reverse);
                break;
            case ProtocolKind.Ip:
                EthHeader(args, rule, reverse);
                args.AddRange(["-p", "ipv4"]);
                IpAddresses(args, rule, reverse, "--ip-source", "--ip-destination");
                Item(args, rule, IpProtocol, "--ip-protocol");
                Ports(args, rule, reverse, "--ip-source-port", "--ip-destination-port");
                if (Get(rule, Dscp) is { } dscp)
                {
                    // libvirt's quirk: the DSCP value goes unshifted into the TOS match, in hex.
                    Option(args, rule, Dscp, "--ip-tos", Hex(dscp));
                }
                break;
            case ProtocolKind.Ipv6:
                EthHeader(args, rule, reverse);
                args.AddRange(["-p", "ipv6"]);
                IpAddresses(args, rule, reverse, "--ip6-source", "--ip6-destination");
                Item(args, rule, IpProtocol, "--ip6-protocol");
                Ports(args, rule, reverse, "--ip6-source-port", "--ip6-destination-port");
                Icmpv6Type(args, rule);
                break;
            default:
                throw new ArgumentException($"{rule.Protocol} is not an Ethernet-layer protocol.", nameof(rule));
        }
        args.AddRange(["-j", Target(rule.Action)]);
        return new FirewallCommand(FirewallCommand.Ebtables, [.. args]);
    }

    /// <summary>ebtables has no REJECT: reject becomes DROP.</summary>
    public static string Target(RuleAction action) => action switch
    {
        RuleAction.Accept => "ACCEPT",
        RuleAction.Drop or RuleAction.Reject => "DROP",
        RuleAction.Return => "RETURN",
        RuleAction.Continue => "CONTINUE",
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };

    private static void EthHeader(List<string> args, FilterRule rule, bool reverse)
    {
        AddressWithMask(args, rule, SrcMacAddr, SrcMacMask, reverse ? "-d" : "-s");
        AddressWithMask(args, rule, DstMacAddr, DstMacMask, reverse ? "-s" : "-d");
    }

    private static void Stp(List<string> args, FilterRule rule, bool reverse)
    {
        if (reverse && Has(rule, SrcMacAddr))
        {
            throw new NwFilterException(Diagnostic.Error("StpInOutWithSourceMac",
                "STP filtering in inout direction with source MAC address set is not supported.", DiagnosticCategory.InvalidData)
                with { Element = "stp", Attribute = "srcmacaddr" });
        }
        EthHeader(args, rule, reverse);
        args.AddRange(["-d", ChainNames.StpGroupAddress]);
        Item(args, rule, StpType, "--stp-type");
        Item(args, rule, StpFlags, "--stp-flags");
        Range(args, rule, RootPriority, RootPriorityHi, "--stp-root-pri");
        AddressWithMask(args, rule, RootAddress, RootAddressMask, "--stp-root-addr");
        Range(args, rule, RootCost, RootCostHi, "--stp-root-cost");
        Range(args, rule, SenderPriority, SenderPriorityHi, "--stp-sender-prio");
        AddressWithMask(args, rule, SenderAddress, SenderAddressMask, "--stp-sender-addr");
        Range(args, rule, Port, PortHi, "--stp-port");
        Range(args, rule, Age, AgeHi, "--stp-msg-age");
        Range(args, rule, MaxAge, MaxAgeHi, "--stp-max-age");
        Range(args, rule, HelloTime, HelloTimeHi, "--stp-hello-time");
        Range(args, rule, ForwardDelay, ForwardDelayHi, "--stp-forward-delay");
    }

    private static void Arp(List<string> args, FilterRule rule, bool reverse)
    {
        EthHeader(args, rule, reverse);
        args.AddRange(["-p", rule.Protocol == ProtocolKind.Arp ? "0x806" : "0x8035"]);
        Item(args, rule, HwType, "--arp-htype");
        Item(args, rule, Opcode, "--arp-opcode");
        if (Get(rule, ProtocolType) is { } protocolType)
        {
            Option(args, rule, ProtocolType, "--arp-ptype", Hex(protocolType));
        }

        // The mask defaults to 32; once a source mask is seen, a destination without its own mask reuses it.
        string? mask = null;
        if (Get(rule, ArpSrcIpAddr) is { } srcIp)
        {
            if (Get(rule, ArpSrcIpMask) is { } srcMask)
            {
                mask = Prefix(srcMask);
            }
            Option(args, rule, ArpSrcIpAddr, reverse ? "--arp-ip-dst" : "--arp-ip-src", $"{Address(srcIp)}/{mask ?? "32"}");
        }
        if (Get(rule, ArpDstIpAddr) is { } dstIp)
        {
            if (Get(rule, ArpDstIpMask) is { } dstMask)
            {
                mask = Prefix(dstMask);
            }
            Option(args, rule, ArpDstIpAddr, reverse ? "--arp-ip-src" : "--arp-ip-dst", $"{Address(dstIp)}/{mask ?? "32"}");
        }
        if (Get(rule, ArpSrcMacAddr) is { } srcMac)
        {
            Option(args, rule, ArpSrcMacAddr, reverse ? "--arp-mac-dst" : "--arp-mac-src", Address(srcMac));
        }
        if (Get(rule, ArpDstMacAddr) is { } dstMac)
        {
            Option(args, rule, ArpDstMacAddr, reverse ? "--arp-mac-src" : "--arp-mac-dst", Address(dstMac));
        }
        if (Get(rule, Gratuitous) is { Number: not 0 })
        {
            if (Negated(rule, Gratuitous))
            {
                args.Add("!");
            }
            args.Add("--arp-gratuitous");
        }
    }

    private static void IpAddresses(List<string> args, FilterRule rule, bool reverse, string source, string destination)
    {
        IpWithPrefix(args, rule, SrcIpAddr, SrcIpMask, reverse ? destination : source);
        IpWithPrefix(args, rule, DstIpAddr, DstIpMask, reverse ? source : destination);
    }

    private static void Ports(List<string> args, FilterRule rule, bool reverse, string source, string destination)
    {
        Range(args, rule, SrcPortStart, SrcPortEnd, reverse ? destination : source);
        Range(args, rule, DstPortStart, DstPortEnd, reverse ? source : destination);
    }

    /// <summary><c>--ip6-icmp-type [!] T1:T2/C1:C2</c>: a missing start is 0, a missing end is the start (or 255).</summary>
    private static void Icmpv6Type(List<string> args, FilterRule rule)
    {
        TypedValue? type = Get(rule, AttributeId.Type), typeEnd = Get(rule, TypeEnd), code = Get(rule, Code), codeEnd = Get(rule, CodeEnd);
        if (type is null && typeEnd is null && code is null && codeEnd is null)
        {
            return;
        }
        static string Span(TypedValue? lo, TypedValue? hi)
        {
            var start = lo is null ? "0" : Decimal(lo);
            var end = hi is not null ? Decimal(hi) : lo is not null ? start : "255";
            return start + ":" + end;
        }
        args.Add("--ip6-icmp-type");
        if (Negated(rule, AttributeId.Type))
        {
            args.Add("!");
        }
        args.Add(Span(type, typeEnd) + "/" + Span(code, codeEnd));
    }

    /// <summary><c>OPT [!] N</c> in decimal.</summary>
    private static void Item(List<string> args, FilterRule rule, AttributeId id, string option)
    {
        if (Get(rule, id) is { } value)
        {
            Option(args, rule, id, option, Decimal(value));
        }
    }

    /// <summary><c>OPT [!] LO[:HI]</c> in decimal; HI only counts when LO is given.</summary>
    private static void Range(List<string> args, FilterRule rule, AttributeId lo, AttributeId hi, string option)
    {
        if (Get(rule, lo) is { } low)
        {
            Option(args, rule, lo, option, Get(rule, hi) is { } high ? $"{Decimal(low)}:{Decimal(high)}" : Decimal(low));
        }
    }

    /// <summary><c>OPT [!] ADDR[/MASK]</c> with both in address form (MACs).</summary>
    private static void AddressWithMask(List<string> args, FilterRule rule, AttributeId address, AttributeId mask, string option)
    {
        if (Get(rule, address) is { } value)
        {
            Option(args, rule, address, option, Get(rule, mask) is { } m ? $"{Address(value)}/{Address(m)}" : Address(value));
        }
    }

    /// <summary><c>OPT [!] IP[/PREFIX]</c>.</summary>
    private static void IpWithPrefix(List<string> args, FilterRule rule, AttributeId address, AttributeId mask, string option)
    {
        if (Get(rule, address) is { } value)
        {
            Option(args, rule, address, option, Get(rule, mask) is { } m ? $"{Address(value)}/{Prefix(m)}" : Address(value));
        }
    }

    private static void Option(List<string> args, FilterRule rule, AttributeId id, string option, string value)
    {
        args.Add(option);
        if (Negated(rule, id))
        {
            args.Add("!");
        }
        args.Add(value);
    }
}
