using NwFilter.Core.Apply;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>One step of a swap or teardown transaction.</summary>
internal abstract record SwapOp(XtablesFamily Family);

/// <summary>Deletes the rule at <paramref name="Index"/> (0-based, in the model the transaction starts from).</summary>
internal sealed record DeleteRuleOp(XtablesFamily Family, string Chain, int Index, XtablesRule Rule) : SwapOp(Family);

/// <summary>Links a new ebtables root chain: <c>-A PREROUTING -i IF -j libvirt-J-IF</c>.</summary>
internal sealed record AddLinkOp(EbLink Link) : SwapOp(XtablesFamily.Ebtables);

internal sealed record FlushChainOp(XtablesFamily Family, string Chain) : SwapOp(Family);

internal sealed record DeleteChainOp(XtablesFamily Family, string Chain) : SwapOp(Family);

internal sealed record RenameChainOp(XtablesFamily Family, string From, string To) : SwapOp(Family);

/// <summary>A rule as <c>nft -a list chain</c> prints it, with its handle.</summary>
internal sealed record NftRuleLine(string Text, ulong Handle);

/// <summary>
/// The swap (or teardown) of a set of ports: one transaction over ebtables, iptables and ip6tables together, written
/// as one <c>nft -f</c> script. All xtables-nft tables are nf_tables tables, so the kernel commits the three
/// families in one generation: a packet sees the old rules of every family or the new rules of every family.
/// </summary>
internal sealed class SwapPlan
{
    public SwapPlan(KernelState before, ImmutableArray<SwapOp> ops)
    {
        Before = before;
        Ops = ops;
    }

    /// <summary>The modelled tables the transaction starts from (rule indexes refer to them).</summary>
    public KernelState Before { get; }

    public ImmutableArray<SwapOp> Ops { get; }

    public bool IsEmpty => Ops.IsEmpty;

    /// <summary>The chains whose rule handles must be read before the script can be written.</summary>
    public IEnumerable<(XtablesFamily Family, string Chain)> HandleChains =>
        Ops.OfType<DeleteRuleOp>().Select(d => (d.Family, d.Chain)).Distinct();

    public static string NftFamily(XtablesFamily family) => family switch
    {
        XtablesFamily.Ebtables => "bridge",
        XtablesFamily.Iptables => "ip",
        XtablesFamily.Ip6tables => "ip6",
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, null),
    };

    /// <summary>The process that lists one chain with handles.</summary>
    public static ProcessRequest ListRequest(XtablesFamily family, string chain) =>
        new("nft", "-a", "list", "chain", NftFamily(family), XtablesTable.TableOf(family), chain) { Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>The rule lines of <c>nft -a list chain</c> output, in order.</summary>
    public static IReadOnlyList<NftRuleLine> ParseListing(string output)
    {
        var rules = new List<NftRuleLine>();
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            var at = line.LastIndexOf("# handle ", StringComparison.Ordinal);
            if (at < 0 || line.StartsWith("chain ", StringComparison.Ordinal) || line.StartsWith("table ", StringComparison.Ordinal))
            {
                continue;
            }
            if (ulong.TryParse(line.AsSpan(at + 9), NumberStyles.None, CultureInfo.InvariantCulture, out var handle))
            {
                rules.Add(new NftRuleLine(line[..at].TrimEnd(), handle));
            }
        }
        return rules;
    }

    /// <summary>
    /// The <c>nft -f</c> script. Each deleted rule is found by its position in the listing, checked against the rule the
    /// model expects there (same count of rules, same jump target or verdict); a mismatch means another program changed
    /// the chain, and nothing is swapped.
    /// </summary>
    public string ToNft(IReadOnlyDictionary<(XtablesFamily, string), IReadOnlyList<NftRuleLine>> listings)
    {
        var text = new StringBuilder();
        foreach (var op in Ops)
        {
            var table = $"{NftFamily(op.Family)} {XtablesTable.TableOf(op.Family)}";
            switch (op)
            {
                case DeleteRuleOp d:
                    var expected = Before.For(d.Family).RulesOf(d.Chain);
                    if (!listings.TryGetValue((d.Family, d.Chain), out var listed) || listed.Count != expected.Count)
                    {
                        throw ApplyErrors.Changed($"{RestoreScript.ProgramName(d.Family)} chain {d.Chain} holds {listed?.Count ?? 0} rules, {expected.Count} were read");
                    }
                    var line = listed[d.Index];
                    if (!Matches(line.Text, d.Rule, Before.For(d.Family)))
                    {
                        throw ApplyErrors.Changed($"rule {d.Index + 1} of {d.Chain} is '{line.Text}', expected '{d.Rule}'");
                    }
                    text.Append($"delete rule {table} {Name(d.Chain)} handle {line.Handle}\n");
                    break;
                case AddLinkOp a:
                    text.Append($"add rule {table} {a.Link.BaseChain} {(a.Link.Incoming ? "iifname" : "oifname")} \"{a.Link.Port}\" counter jump {Name(a.Link.Target)}\n");
                    break;
            }
        }
        foreach (var f in Ops.OfType<FlushChainOp>())
        {
            text.Append($"flush chain {NftFamily(f.Family)} {XtablesTable.TableOf(f.Family)} {Name(f.Chain)}\n");
        }
        foreach (var d in Ops.OfType<DeleteChainOp>())
        {
            text.Append($"delete chain {NftFamily(d.Family)} {XtablesTable.TableOf(d.Family)} {Name(d.Chain)}\n");
        }
        foreach (var r in Ops.OfType<RenameChainOp>())
        {
            text.Append($"rename chain {NftFamily(r.Family)} {XtablesTable.TableOf(r.Family)} {Name(r.From)} {Name(r.To)}\n");
        }
        return text.ToString();
    }

    /// <summary>The script as -WhatIf shows it: handles are read at apply time, so deletions show the rule instead.</summary>
    public string Describe()
    {
        var listings = HandleChains.ToDictionary(
            c => c,
            c => (IReadOnlyList<NftRuleLine>)Before.For(c.Family).RulesOf(c.Chain).Select((r, i) => new NftRuleLine(Verdict(r, Before.For(c.Family)), (ulong)i)).ToList());
        var script = ToNft(listings);
        var lines = script.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var deletes = Ops.OfType<DeleteRuleOp>().ToList();
        for (int i = 0, d = 0; i < lines.Count && d < deletes.Count; i++)
        {
            if (lines[i].StartsWith("delete rule ", StringComparison.Ordinal))
            {
                var op = deletes[d++];
                lines[i] = lines[i][..lines[i].LastIndexOf(" handle ", StringComparison.Ordinal)] +
                    $" handle <{RestoreScript.ProgramName(op.Family)}: -A {op.Chain} {op.Rule}>";
            }
        }
        return string.Concat(lines.Select(l => l + "\n"));
    }

    /// <summary>The tables after the transaction (modelled).</summary>
    public KernelState After()
    {
        var state = Before.Clone();
        foreach (var group in Ops.OfType<DeleteRuleOp>().GroupBy(d => (d.Family, d.Chain)))
        {
            var chain = state.For(group.Key.Family).Chain(group.Key.Chain)!;
            foreach (var index in group.Select(d => d.Index).Distinct().OrderDescending())
            {
                chain.Rules.RemoveAt(index);
            }
        }
        foreach (var a in Ops.OfType<AddLinkOp>())
        {
            state.Ebtables.Apply(["-A", a.Link.BaseChain, a.Link.Incoming ? "-i" : "-o", a.Link.Port, "-j", a.Link.Target]);
        }
        foreach (var d in Ops.OfType<DeleteChainOp>())
        {
            state.For(d.Family).Remove(d.Chain);
        }
        foreach (var r in Ops.OfType<RenameChainOp>())
        {
            var table = state.For(r.Family);
            table.Rename(table.Chain(r.From)!, r.To);
        }
        return state;
    }

    private static bool Matches(string nftText, XtablesRule rule, XtablesTable table)
    {
        var words = nftText.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (rule.Target is null)
        {
            return true;
        }
        if (table.HasChain(rule.Target))
        {
            for (var i = 0; i + 1 < words.Length; i++)
            {
                if (words[i] is "jump" or "goto" && words[i + 1] == rule.Target)
                {
                    return true;
                }
            }
            return false;
        }
        return words.Contains(rule.Target.ToLowerInvariant(), StringComparer.Ordinal);
    }

    private static string Verdict(XtablesRule rule, XtablesTable table) =>
        rule.Target is null ? "" : table.HasChain(rule.Target) ? (rule.IsGoto ? "goto " : "jump ") + rule.Target : rule.Target.ToLowerInvariant();

    /// <summary>A chain name as an nft identifier; names nft cannot parse bare are refused.</summary>
    private static string Name(string chain)
    {
        var ok = chain.Length > 0 && (char.IsAsciiLetter(chain[0]) || chain[0] is '_' or '.') &&
                 chain.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '\\' or '_' or '.' or '-');
        return ok ? chain : throw new Diagnostics.NwFilterException(Diagnostics.Diagnostic.Error(
            "InvalidPortDevice", $"The chain name '{chain}' cannot be written in an nft script: use a port device name of letters, digits, '-', '_' and '.'.",
            Diagnostics.DiagnosticCategory.InvalidArgument) with { Value = chain });
    }
}
