using NwFilter.Core.Backends;

namespace NwFilter.Core.Tests.Backends.EbIpTables;

/// <summary>
/// libvirt's xml2firewall harness removes "common rules" from the recorded output before comparing (tests/nwfilterxml2firewalltest.c):
/// an ordered list of blocks; each is searched from where the previous one was cut, removed only when it matches
/// verbatim and contiguously, and the offset moves to the cut. This reproduces it (test code, not product).
/// </summary>
internal static class LibvirtCommonRules
{
    private const string If = "vnet0";

    private static string Eb(params string[] args) =>
        CommandPrinter.Recorded(new FirewallCommand("ebtables", ["--concurrent", "-t", "nat", .. args]));

    private static string Ipt(string program, params string[] args) =>
        CommandPrinter.Recorded(new FirewallCommand(program, ["-w", .. args]));

    private static string DropIptables(string p) => string.Concat(
        Ipt(p, "-D", "libvirt-out", "-m", "physdev", "--physdev-is-bridged", "--physdev-out", If, "-g", "FP-" + If),
        Ipt(p, "-D", "libvirt-out", "-m", "physdev", "--physdev-out", If, "-g", "FP-" + If),
        Ipt(p, "-D", "libvirt-in", "-m", "physdev", "--physdev-in", If, "-g", "FJ-" + If),
        Ipt(p, "-D", "libvirt-host-in", "-m", "physdev", "--physdev-in", If, "-g", "HJ-" + If),
        Ipt(p, "-F", "FP-" + If), Ipt(p, "-X", "FP-" + If),
        Ipt(p, "-F", "FJ-" + If), Ipt(p, "-X", "FJ-" + If),
        Ipt(p, "-F", "HJ-" + If), Ipt(p, "-X", "HJ-" + If));

    private static string BaseChain(string p, string chain, string parent, string position) => string.Concat(
        Ipt(p, "-N", chain), Ipt(p, "-D", parent, "-j", chain), Ipt(p, "-I", parent, position, "-j", chain));

    private static string CreateIptables(string p) => string.Concat(
        BaseChain(p, "libvirt-in", "FORWARD", "1"),
        BaseChain(p, "libvirt-out", "FORWARD", "2"),
        BaseChain(p, "libvirt-in-post", "FORWARD", "3"),
        BaseChain(p, "libvirt-host-in", "INPUT", "1"),
        Ipt(p, "-N", "FP-" + If), Ipt(p, "-N", "FJ-" + If), Ipt(p, "-N", "HJ-" + If),
        Ipt(p, "-A", "libvirt-out", "-m", "physdev", "--physdev-is-bridged", "--physdev-out", If, "-g", "FP-" + If),
        Ipt(p, "-A", "libvirt-in", "-m", "physdev", "--physdev-in", If, "-g", "FJ-" + If),
        Ipt(p, "-A", "libvirt-host-in", "-m", "physdev", "--physdev-in", If, "-g", "HJ-" + If),
        Ipt(p, "-D", "libvirt-in-post", "-m", "physdev", "--physdev-in", If, "-j", "ACCEPT"),
        Ipt(p, "-A", "libvirt-in-post", "-m", "physdev", "--physdev-in", If, "-j", "ACCEPT"));

    /// <summary>The blocks, in the newest harness's order, with the names failures use.</summary>
    public static readonly (string Name, string Text)[] NamedBlocks =
    [
        ("ebtables: remove the old root chains", string.Concat(
            Eb("-D", "PREROUTING", "-i", If, "-j", "libvirt-J-" + If),
            Eb("-D", "POSTROUTING", "-o", If, "-j", "libvirt-P-" + If),
            Eb("-L", "libvirt-J-" + If), Eb("-L", "libvirt-P-" + If),
            Eb("-F", "libvirt-J-" + If), Eb("-X", "libvirt-J-" + If),
            Eb("-F", "libvirt-P-" + If), Eb("-X", "libvirt-P-" + If))),
        ("ebtables: create both root chains", Eb("-N", "libvirt-J-" + If) + Eb("-N", "libvirt-P-" + If)),
        ("iptables -L", Ipt("iptables", "-L")),
        ("ip6tables -L", Ipt("ip6tables", "-L")),
        ("ebtables: attach both root chains", Eb("-A", "PREROUTING", "-i", If, "-j", "libvirt-J-" + If) + Eb("-A", "POSTROUTING", "-o", If, "-j", "libvirt-P-" + If)),
        ("iptables: remove the old port chains", DropIptables("iptables")),
        ("iptables: create the base and port chains", CreateIptables("iptables")),
        ("ip6tables: remove the old port chains", DropIptables("ip6tables")),
        ("ip6tables: create the base and port chains", CreateIptables("ip6tables")),
    ];

    /// <summary>The blocks' texts, in the newest harness's order.</summary>
    public static readonly string[] Blocks = [.. NamedBlocks.Select(b => b.Text)];

    /// <summary>Removes the blocks as the harness does: contiguous matches only, searching on from the last cut.</summary>
    public static string Strip(string recorded) => Strip(recorded, out _);

    /// <summary>As <see cref="Strip(string)"/>, also telling which blocks were found (by index).</summary>
    public static string Strip(string recorded, out List<int> removed)
    {
        var text = recorded;
        var offset = 0;
        removed = [];
        for (var i = 0; i < Blocks.Length; i++)
        {
            var at = text.IndexOf(Blocks[i], offset, StringComparison.Ordinal);
            if (at >= 0)
            {
                text = text.Remove(at, Blocks[i].Length);
                offset = at;
                removed.Add(i);
            }
        }
        return text;
    }

    /// <summary>
    /// The blocks libvirt's own output had for a case, read from libvirt's expected (stripped) output: libvirt always
    /// removes the old root chains (ebiptablesApplyNewRules), creates and attaches the ebtables root chains of the
    /// directions that have rules, and the iptables/ip6tables chains of the families that have rules. The harness
    /// removes the ebtables create and attach blocks only in their two-root shape, so a case with rules in one
    /// direction only keeps its one-root <c>-N</c> and <c>-A PREROUTING|POSTROUTING</c> lines in the expected output
    /// (rarp), and expects neither block removed.
    /// </summary>
    public static SortedSet<int> ExpectedBlocks(string libvirtExpected)
    {
        var expected = new SortedSet<int> { 0 };
        var lines = libvirtExpected.Split('\n');
        if (lines.Contains($"-A libvirt-J-{If} \\") && lines.Contains($"-A libvirt-P-{If} \\"))
        {
            expected.UnionWith([1, 4]);
        }
        if (lines.Contains("iptables \\"))
        {
            expected.UnionWith([2, 5, 6]);
        }
        if (lines.Contains("ip6tables \\"))
        {
            expected.UnionWith([3, 7, 8]);
        }
        return expected;
    }

    /// <summary>
    /// Fails unless exactly the <paramref name="expected"/> blocks were removed from <paramref name="recorded"/>, naming
    /// the case and each block that is missing, is there in a different shape (its first command is, a later one
    /// differs), or was removed though libvirt's output did not have it.
    /// </summary>
    public static void AssertRemoved(string caseName, string recorded, IReadOnlyCollection<int> removed, IReadOnlySet<int> expected)
    {
        var problems = new List<string>();
        foreach (var i in expected.Where(i => !removed.Contains(i)))
        {
            problems.Add($"block '{NamedBlocks[i].Name}' was not removed: {Shape(recorded, Blocks[i])}");
        }
        foreach (var i in removed.Where(i => !expected.Contains(i)))
        {
            problems.Add($"block '{NamedBlocks[i].Name}' was removed, but libvirt's expected output implies libvirt did not emit it");
        }
        Assert.True(problems.Count == 0, $"{caseName}: " + string.Join("; ", problems));
    }

    /// <summary>Why a block is not in <paramref name="recorded"/> verbatim: missing, or where its shape differs.</summary>
    private static string Shape(string recorded, string block)
    {
        var commands = Commands(block);
        var at = recorded.IndexOf(commands[0], StringComparison.Ordinal);
        if (at < 0)
        {
            return "it is missing (its first command, " + OneLine(commands[0]) + ", is not in the output)";
        }
        var found = Commands(recorded[at..]);
        for (var k = 0; k < commands.Count; k++)
        {
            if (k >= found.Count || found[k] != commands[k])
            {
                return $"it is there in a different shape: its command {k + 1} should be {OneLine(commands[k])}, the output has {(k < found.Count ? OneLine(found[k]) : "nothing")}";
            }
        }
        return "it is there, but not after the previous block's cut (out of order)";
    }

    /// <summary>Recorded text as its commands (a line not ending in <c> \</c> ends one).</summary>
    internal static List<string> Commands(string text)
    {
        var commands = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n' && (i == 0 || text[i - 1] != '\\'))
            {
                commands.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        }
        return commands;
    }

    private static string OneLine(string command) => "'" + command.Replace(" \\\n", " ", StringComparison.Ordinal).TrimEnd('\n') + "'";
}
