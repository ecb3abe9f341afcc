using System.Collections.Immutable;
using System.Text.RegularExpressions;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Resolution;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Trace;

/// <summary>One line of <c>nft monitor trace</c>: a packet's trace id, where it is, and what happened.</summary>
/// <param name="Id">The kernel's trace id (one per packet).</param>
/// <param name="Family">bridge, inet, ip, ...</param>
/// <param name="Table">The table.</param>
/// <param name="Chain">The chain.</param>
/// <param name="Kind">packet, rule or policy.</param>
/// <param name="Comment">The rule's comment, or null.</param>
/// <param name="Verdict">The rule's or policy's verdict (accept, drop, return, continue, jump X, ...), or null.</param>
internal sealed record NftTraceEvent(string Id, string Family, string Table, string Chain, string Kind, string? Comment, string? Verdict)
{
    /// <summary>For a <c>packet</c> event: the header fields nft printed (<c>ether saddr</c>, <c>ip daddr</c>, ...), else empty.</summary>
    public string Packet { get; init; } = "";

    /// <summary>For a <c>rule</c> event: the rule's handle (printed by <c>nft -a monitor trace</c>, or in an <c>unknown rule handle N</c> event), else null.</summary>
    public long? Handle { get; init; }
}

/// <summary>
/// Reads <c>nft monitor trace</c> lines and maps the events of NwFilter's tables back to the port's rule instances
/// through the provenance comment (<c>nwf:ORDINAL PRIORITY FILTER</c>, docs/design/nftables.md section 3). Pure.
/// </summary>
internal static partial class NftTraceEvents
{
    /// <summary>The table the live trace adds (its own, so removing it can never touch the filtering tables).</summary>
    public const string TraceTable = "nwfilter-trace";

    [GeneratedRegex("^trace id (?<id>[0-9a-f]+) (?<family>\\w+) (?<table>\\S+) (?<chain>\\S+) (?<kind>packet|rule|policy|unknown rule handle \\d+)(?<rest>.*)$")]
    private static partial Regex Line();

    [GeneratedRegex("comment \"(?<c>[^\"]*)\"")]
    private static partial Regex Comment();

    [GeneratedRegex("\\(verdict (?<v>[^)]*)\\)\\s*$")]
    private static partial Regex RuleVerdict();

    [GeneratedRegex("(?:# handle|^unknown rule handle) (?<h>\\d+)(?: \\(verdict [^)]*\\))?\\s*$")]
    private static partial Regex RuleHandle();

    /// <summary>The event of one line, or null for a line that is not a trace event.</summary>
    public static NftTraceEvent? Parse(string line)
    {
        var m = Line().Match(line.TrimEnd());
        if (!m.Success)
        {
            return null;
        }
        var rest = m.Groups["rest"].Value;
        var kind = m.Groups["kind"].Value;
        string? verdict = kind switch
        {
            "policy" => rest.Trim(),
            "rule" => RuleVerdict().Match(rest) is { Success: true } v ? v.Groups["v"].Value : null,
            _ => null,
        };
        var comment = kind == "rule" && Comment().Match(rest) is { Success: true } c ? c.Groups["c"].Value : null;
        var unknown = kind.StartsWith("unknown", StringComparison.Ordinal);
        var handle = (kind == "rule" ? RuleHandle().Match(rest.TrimEnd()) : unknown ? RuleHandle().Match(kind) : null) is { Success: true } h
            && long.TryParse(h.Groups["h"].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : (long?)null;
        return new NftTraceEvent(m.Groups["id"].Value, m.Groups["family"].Value, m.Groups["table"].Value, m.Groups["chain"].Value,
            unknown ? "rule" : kind, comment, verdict)
        {
            Packet = kind == "packet" ? rest.TrimStart(':', ' ').Trim() : "",
            Handle = handle,
        };
    }

    [GeneratedRegex("(?<key>ether saddr|ether daddr|ether type|ip6? saddr|ip6? daddr|ip protocol|ip6 nexthdr|(?:tcp|udp|th|sctp) sport|(?:tcp|udp|th|sctp) dport|arp operation|icmp type|icmpv6 type) (?<value>\\S+)")]
    private static partial Regex PacketField();

    /// <summary>A <see cref="TracePacket"/> from the fields of a <c>packet</c> event (what nft printed; the rest left empty).</summary>
    public static TracePacket? Packet(string fields, TraceDirection direction)
    {
        if (fields.Length == 0)
        {
            return null;
        }
        var packet = new TracePacket { Direction = direction };
        string? transport = null; // the header nft printed after the IP one, where it printed no ip protocol (ip family hooks)
        foreach (Match m in PacketField().Matches(fields))
        {
            var value = m.Groups["value"].Value;
            var field = m.Groups["key"].Value;
            transport ??= field switch
            {
                "tcp sport" or "tcp dport" => "tcp",
                "udp sport" or "udp dport" => "udp",
                "sctp sport" or "sctp dport" => "sctp",
                "icmp type" => "icmp",
                "icmpv6 type" => "ipv6-icmp",
                _ => null,
            };
            switch (field)
            {
                case "ether saddr" when Model.MacAddressText.TryParse(value, out var mac): packet = packet with { SourceMac = mac }; break;
                case "ether daddr" when Model.MacAddressText.TryParse(value, out var mac): packet = packet with { DestinationMac = mac }; break;
                case "ip saddr" or "ip6 saddr" when System.Net.IPAddress.TryParse(value, out var a): packet = packet with { SourceAddress = a }; break;
                case "ip daddr" or "ip6 daddr" when System.Net.IPAddress.TryParse(value, out var a): packet = packet with { DestinationAddress = a }; break;
                case "ip protocol" or "ip6 nexthdr": packet = packet with { Protocol = value }; break;
                case "arp operation": packet = packet with { Protocol = "arp" }; break;
                case var key when key.EndsWith("sport", StringComparison.Ordinal) && ushort.TryParse(value, out var port): packet = packet with { SourcePort = port }; break;
                case var key when key.EndsWith("dport", StringComparison.Ordinal) && ushort.TryParse(value, out var port): packet = packet with { DestinationPort = port }; break;
            }
        }
        if (packet.Protocol.Length == 0 && transport is not null && packet.SourceAddress is not null)
        {
            packet = packet with { Protocol = transport };
        }
        if (packet.Protocol.Length == 0)
        {
            packet = packet with { Protocol = fields.Contains("ip6 ", StringComparison.Ordinal) ? "ipv6" : fields.Contains("ip ", StringComparison.Ordinal) ? "ip" : "frame" };
        }
        return packet;
    }

    /// <summary>The role part of a per-port chain name (<c>vnet0/12/3/I-arp</c> gives <c>I-arp</c>), or the name itself.</summary>
    public static string Role(string chain) =>
        NftNames.TryParseChain(chain, out _, out _, out _, out var role) ? role : chain;

    /// <summary>The port of a per-port chain name, or null for a base chain.</summary>
    public static string? PortOf(string chain) =>
        NftNames.TryParseChain(chain, out var port, out _, out _, out _) ? port : null;

    /// <summary>The verdict of a rule event, as the trace reports it (jumps are not verdicts of a rule instance).</summary>
    public static TraceVerdict? Verdict(string? verdict) => verdict switch
    {
        "accept" => TraceVerdict.Accept,
        "drop" => TraceVerdict.Drop,
        "return" => TraceVerdict.Return,
        "continue" => TraceVerdict.Continue,
        _ when verdict?.StartsWith("reject", StringComparison.Ordinal) == true => TraceVerdict.Reject,
        _ => null,
    };

    /// <summary>
    /// The trace step of a rule event of NwFilter's tables, mapped to the instance its comment names. A comment whose
    /// ordinal, filter or priority does not fit the instances (the rules were compiled from other filters) gives a step
    /// without a rule and says so.
    /// </summary>
    public static TraceStep? Step(NftTraceEvent e, ImmutableArray<RuleInstance> instances, string portDevice, TraceDirection direction)
    {
        if (e.Kind != "rule" || e.Comment is null || !NftProvenance.TryParse(e.Comment, out var origin) || origin is null)
        {
            return null;
        }
        var verdict = Verdict(e.Verdict);
        var step = new TraceStep
        {
            Kind = TraceStepKind.Rule,
            Chain = Role(e.Chain),
            Verdict = verdict,
            Filter = origin.FilterName,
            Priority = origin.RulePriority,
            PortDevice = portDevice,
            PacketDirection = direction,
        };
        if (origin.Ordinal < instances.Length && instances[origin.Ordinal] is var instance
            && instance.RulePriority == origin.RulePriority && (origin.NameTruncated ? instance.FilterName.StartsWith(origin.FilterName, StringComparison.Ordinal) : instance.FilterName == origin.FilterName))
        {
            return step with
            {
                Filter = instance.FilterName,
                Direction = instance.Rule.Direction,
                Action = instance.Rule.Action,
                Rule = NwFilterXmlWriter.Write(instance.Rule),
                Reason = $"Kernel: {e.Family} {Role(e.Chain)} verdict {e.Verdict}.",
            };
        }
        return step with { Reason = $"Kernel: {e.Family} {Role(e.Chain)} verdict {e.Verdict}; the comment '{e.Comment}' names no rule of the binding as resolved now (its filters changed since it was applied?)." };
    }
}
