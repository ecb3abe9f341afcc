using NwFilter.Core.Backends;

namespace NwFilter.Core.Tests.Backends;

public class CommandPrinterTests
{
    private static FirewallCommand Command(string program, params string[] args) => new(program, [.. args]);

    [Fact]
    public void OptionsStartLinesAndTheirValuesFollowThem()
    {
        var text = CommandPrinter.Recorded(Command("iptables", "-w", "-A", "FJ-vnet0", "-m", "mac", "!", "--mac-source", "01:02:03:04:05:06", "-j", "RETURN"));
        Assert.Equal("iptables \\\n-w \\\n-A FJ-vnet0 \\\n-m mac '!' \\\n--mac-source 01:02:03:04:05:06 \\\n-j RETURN\n", text);
    }

    [Fact]
    public void PositionalArgumentsAfterTheProgramOrAnotherPositionalStartLines()
    {
        Assert.Equal("nft \\\nadd \\\nrule\n", CommandPrinter.Recorded(Command("nft", "add", "rule")));
        Assert.Equal("x \\\n-E \\\n-F a b\n", CommandPrinter.Recorded(Command("x", "-E", "-F", "a", "b")));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("NEW,ESTABLISHED", "NEW,ESTABLISHED")]
    [InlineData("", "''")]
    [InlineData("!", "'!'")]
    [InlineData("udp rule", "'udp rule'")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("`ls`;${COLUMNS};$(ls);\"test\";&'3   spaces'", "'`ls`;${COLUMNS};$(ls);\"test\";&'\\''3   spaces'\\'''")]
    [InlineData("a~b", "'a~b'")]
    [InlineData("tab\there", "'tab\there'")]
    public void ArgumentsAreShellQuotedOnlyWhenNeeded(string argument, string printed)
    {
        Assert.Equal(printed, CommandPrinter.Quote(argument));
    }

    [Fact]
    public void ShellLinesAreOneCommandPerLine()
    {
        var lines = CommandPrinter.ShellLines([Command("ebtables", "-t", "nat", "-N", "x"), Command("iptables", "-w", "-L")]);
        Assert.Equal("ebtables -t nat -N x\niptables -w -L\n", lines);
    }
}
