using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Host;

public sealed class RestoreScriptTests
{
    private static (string, IReadOnlyList<string>) Cmd(string program, params string[] arguments) => (program, arguments);

    [Fact]
    public void AnEbtablesCommandBecomesALineUnderItsTable()
    {
        var script = RestoreScript.Translate([
            Cmd("/usr/sbin/ebtables", "--concurrent", "-t", "nat", "-N", "libvirt-J-vnet0"),
            Cmd("ebtables", "--concurrent", "-t", "nat", "-A", "libvirt-J-vnet0", "-s", "!", "aa:bb:cc:dd:ee:ff", "-j", "DROP"),
        ]);

        var batch = Assert.Single(script.Batches);
        Assert.Equal(XtablesFamily.Ebtables, batch.Family);
        Assert.Equal("ebtables-restore", batch.RestoreProgram);
        Assert.Equal("*nat\n-N libvirt-J-vnet0\n-A libvirt-J-vnet0 -s ! aa:bb:cc:dd:ee:ff -j DROP\nCOMMIT\n", batch.Text);
        Assert.Equal(2, batch.CommandCount);
        Assert.Empty(script.Separate);
    }

    [Fact]
    public void IptablesDefaultsToTheFilterTableAndDropsTheWaitOption()
    {
        var script = RestoreScript.Translate([
            Cmd("/usr/sbin/iptables", "-w", "-N", "FJ-vnet0"),
            Cmd("iptables", "-w", "5", "-A", "libvirt-in", "-m", "physdev", "--physdev-in", "vnet0", "-g", "FJ-vnet0"),
            Cmd("ip6tables", "--wait", "-I", "FORWARD", "1", "-j", "libvirt-in"),
        ]);

        Assert.Equal("*filter\n-N FJ-vnet0\n-A libvirt-in -m physdev --physdev-in vnet0 -g FJ-vnet0\nCOMMIT\n", script.For(XtablesFamily.Iptables)!.Text);
        Assert.Equal("*filter\n-I FORWARD 1 -j libvirt-in\nCOMMIT\n", script.For(XtablesFamily.Ip6tables)!.Text);
        Assert.Null(script.For(XtablesFamily.Ebtables));
    }

    [Theory]
    [InlineData("-N", "-N")]
    [InlineData("--new-chain", "-N")]
    [InlineData("--append", "-A")]
    [InlineData("--insert", "-I")]
    [InlineData("--delete", "-D")]
    [InlineData("--flush", "-F")]
    [InlineData("--delete-chain", "-X")]
    [InlineData("--rename-chain", "-E")]
    [InlineData("--policy", "-P")]
    public void EveryOperationLibvirtUsesIsRestorable(string operation, string shortForm)
    {
        Assert.True(RestoreScript.TryTranslate("ebtables", ["-t", "nat", operation, "X", "Y"], out _, out var table, out var line, out _));
        Assert.Equal("nat", table);
        Assert.Equal($"{shortForm} X Y", line);
    }

    [Theory]
    [InlineData("-L")]
    [InlineData("--list")]
    [InlineData("-S")]
    [InlineData("-C")]
    [InlineData("-Z")]
    public void QueriesStaySeparate(string operation)
    {
        var script = RestoreScript.Translate([Cmd("ebtables", "-t", "nat", "-N", "A"), Cmd("ebtables", "--concurrent", "-t", "nat", operation, "A")]);
        var separate = Assert.Single(script.Separate);
        Assert.Equal(1, separate.Index);
        Assert.Contains("query", separate.Reason, StringComparison.Ordinal);
        Assert.Equal(["--concurrent", "-t", "nat", operation, "A"], separate.ToRequest().Arguments);
    }

    [Fact]
    public void OtherProgramsAndUnwritableArgumentsStaySeparate()
    {
        var script = RestoreScript.Translate([
            Cmd("nft", "list", "ruleset"),
            Cmd("iptables", "-A", "X", "-m", "comment", "--comment", "two\nlines"),
            Cmd("iptables", "-A", "X", "-m", "comment", "--comment", ""),
            Cmd("iptables", "-w"),
            Cmd("iptables", "--bogus", "X"),
        ]);
        Assert.Empty(script.Batches);
        Assert.Equal([0, 1, 2, 3, 4], script.Separate.Select(s => s.Index));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("two words", "\"two words\"")]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData("back\\slash", "\"back\\\\slash\"")]
    public void WordsAreQuotedForTheRestoreParser(string word, string expected) => Assert.Equal(expected, RestoreScript.QuoteWord(word));

    [Fact]
    public void TablesGetOneSectionEachInOrderOfFirstUse()
    {
        var script = RestoreScript.Translate([
            Cmd("ebtables", "-t", "nat", "-N", "A"),
            Cmd("ebtables", "-t", "filter", "-N", "B"),
            Cmd("ebtables", "-t", "nat", "-A", "A", "-j", "ACCEPT"),
        ]);
        var batch = Assert.Single(script.Batches);
        Assert.Equal(["nat", "filter"], batch.Tables);
        Assert.Equal("*nat\n-N A\n-A A -j ACCEPT\nCOMMIT\n*filter\n-N B\nCOMMIT\n", batch.Text);
    }

    [SkippableFact]
    public void LibvirtsCleanTrafficCommandsTranslateToOneEbtablesBatchAndTheirListings()
    {
        var commands = LibvirtCapture.Commands("01-clean-traffic-vnet0.commands.txt");
        var script = RestoreScript.Translate(commands);
        Assert.Equal(126, commands.Count);
        Assert.Equal([XtablesFamily.Ebtables, XtablesFamily.Iptables, XtablesFamily.Ip6tables], script.Batches.Select(b => b.Family));
        Assert.All(script.Separate, s => Assert.Contains("-L", s.Arguments));
        Assert.Equal(126, script.Batches.Sum(b => b.CommandCount) + script.Separate.Count);
    }
}
