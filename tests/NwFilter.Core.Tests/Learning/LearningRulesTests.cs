using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Learning;

public sealed class LearningRulesTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("52-54-00-AA-BB-EE");
    private const string Eb = "ebtables --concurrent -t nat";

    /// <summary>The build transaction (the last one), as shell lines.</summary>
    private static string[] Build(FirewallPlan plan) => [.. plan.Transactions[^1].Commands.Select(c => c.ToString())];

    [SkippableFact]
    public void BasicRulesAreWhatLibvirt90RanWhenItStartedLearning()
    {
        // live-9.0/04: libvirt's complete command list for a clean-traffic binding without IP, MAC 52:54:00:aa:bb:ee.
        var expected = LibvirtCapture.Commands("04-clean-traffic-iplearning-vnet0.commands.txt")
            .Select(c => string.Join(' ', [Path.GetFileName(c.Program), .. c.Arguments.Select(a => a == "'!'" ? "!" : a)]))
            .ToList();
        var actual = DryRunRecorder.Run(LearningRules.BasicRules("vnet0", Mac))
            .Select(c => string.Join(' ', [c.Program, .. c.Arguments]))
            .ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void BasicRulesTearDownFirstThenBuildOneTransactionThatCleansUpOnFailure()
    {
        var plan = LearningRules.BasicRules("vnet0", Mac);
        Assert.Equal("ApplyBasicRules", plan.Operation);
        var teardown = EbIpTablesBackend.Instance.AllTeardown("vnet0");
        Assert.Equal(teardown.Transactions.Length, plan.Transactions.Length - 1);
        Assert.True(teardown.Transactions[0].IgnoreErrors);
        Assert.Equal(teardown.PlannedCommands.Select(c => c.ToString()), plan.Transactions[0].Commands.Select(c => c.ToString()));
        var build = plan.Transactions[^1];
        Assert.False(build.IgnoreErrors);
        Assert.Equal(LearningRules.CleanAllCommands("vnet0").Select(c => c.ToString()), build.Rollback.Select(c => c.ToString()));
        Assert.Equal(
        [
            $"{Eb} -N libvirt-J-vnet0",
            $"{Eb} -A libvirt-J-vnet0 -s '!' 52:54:00:aa:bb:ee -j DROP",
            $"{Eb} -A libvirt-J-vnet0 -p IPv4 -j ACCEPT",
            $"{Eb} -A libvirt-J-vnet0 -p ARP -j ACCEPT",
            $"{Eb} -A libvirt-J-vnet0 -j DROP",
            $"{Eb} -A PREROUTING -i vnet0 -j libvirt-J-vnet0",
            $"{Eb} -E libvirt-J-vnet0 libvirt-I-vnet0",
        ], Build(plan));
    }

    [Fact]
    public void DhcpOnlyRulesWithoutServersAcceptRepliesFromAnyone()
    {
        Assert.Equal(
        [
            $"{Eb} -N libvirt-J-vnet3",
            $"{Eb} -N libvirt-P-vnet3",
            $"{Eb} -A libvirt-J-vnet3 -s 52:54:00:aa:bb:ee -p ipv4 --ip-protocol udp --ip-sport 68 --ip-dport 67 -j ACCEPT",
            $"{Eb} -A libvirt-J-vnet3 -j DROP",
            $"{Eb} -A libvirt-P-vnet3 -d 52:54:00:aa:bb:ee -p ipv4 --ip-protocol udp --ip-sport 67 --ip-dport 68 -j ACCEPT",
            $"{Eb} -A libvirt-P-vnet3 -d ff:ff:ff:ff:ff:ff -p ipv4 --ip-protocol udp --ip-sport 67 --ip-dport 68 -j ACCEPT",
            $"{Eb} -A libvirt-P-vnet3 -j DROP",
            $"{Eb} -A PREROUTING -i vnet3 -j libvirt-J-vnet3",
            $"{Eb} -A POSTROUTING -o vnet3 -j libvirt-P-vnet3",
            $"{Eb} -E libvirt-J-vnet3 libvirt-I-vnet3",
            $"{Eb} -E libvirt-P-vnet3 libvirt-O-vnet3",
        ], Build(LearningRules.DhcpOnlyRules("vnet3", Mac, [])));
    }

    [Fact]
    public void DhcpOnlyRulesWithServersAcceptEachServerToTheVmAndToBroadcast()
    {
        var lines = Build(LearningRules.DhcpOnlyRules("vnet3", Mac, [IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")], leaveTemporary: true));
        Assert.Equal(
        [
            $"{Eb} -A libvirt-P-vnet3 -d 52:54:00:aa:bb:ee -p ipv4 --ip-protocol udp --ip-src 10.0.0.1 --ip-sport 67 --ip-dport 68 -j ACCEPT",
            $"{Eb} -A libvirt-P-vnet3 -d ff:ff:ff:ff:ff:ff -p ipv4 --ip-protocol udp --ip-src 10.0.0.1 --ip-sport 67 --ip-dport 68 -j ACCEPT",
            $"{Eb} -A libvirt-P-vnet3 -d 52:54:00:aa:bb:ee -p ipv4 --ip-protocol udp --ip-src 10.0.0.2 --ip-sport 67 --ip-dport 68 -j ACCEPT",
            $"{Eb} -A libvirt-P-vnet3 -d ff:ff:ff:ff:ff:ff -p ipv4 --ip-protocol udp --ip-src 10.0.0.2 --ip-sport 67 --ip-dport 68 -j ACCEPT",
            $"{Eb} -A libvirt-P-vnet3 -j DROP",
        ], lines[4..9]);
        Assert.Equal($"{Eb} -A POSTROUTING -o vnet3 -j libvirt-P-vnet3", lines[^1]); // no renames: left temporary
    }

    [Fact]
    public void AsNewRulesBuildsTheSameRulesUnderTemporaryNamesWithoutTeardownOrRenames()
    {
        var plan = LearningRules.AsNewRules("vnet3", Mac, IpLearningMode.Dhcp, [IPAddress.Parse("10.0.0.1")]);
        Assert.Equal("ApplyNewRules", plan.Operation);
        Assert.Equal(2, plan.Transactions.Length);
        Assert.True(plan.Transactions[0].IgnoreErrors);
        Assert.All(plan.Transactions[0].Commands, c => Assert.Contains(c.Arguments, a => a.Contains("-J-vnet3", StringComparison.Ordinal) || a.Contains("-P-vnet3", StringComparison.Ordinal)));
        var direct = Build(LearningRules.DhcpOnlyRules("vnet3", Mac, [IPAddress.Parse("10.0.0.1")], leaveTemporary: true));
        Assert.Equal(direct, Build(plan));
        Assert.Equal(Build(LearningRules.BasicRules("vnet3", Mac))[..^1], Build(LearningRules.AsNewRules("vnet3", Mac, IpLearningMode.Any)));
    }

    [Fact]
    public void DropAllRulesDropBothWays()
    {
        Assert.Equal(
        [
            $"{Eb} -N libvirt-J-vnet0",
            $"{Eb} -N libvirt-P-vnet0",
            $"{Eb} -A libvirt-J-vnet0 -j DROP",
            $"{Eb} -A libvirt-P-vnet0 -j DROP",
            $"{Eb} -A PREROUTING -i vnet0 -j libvirt-J-vnet0",
            $"{Eb} -A POSTROUTING -o vnet0 -j libvirt-P-vnet0",
            $"{Eb} -E libvirt-J-vnet0 libvirt-I-vnet0",
            $"{Eb} -E libvirt-P-vnet0 libvirt-O-vnet0",
        ], Build(LearningRules.DropAllRules("vnet0")));
    }

    [Fact]
    public void CleanAllRemovesFinalThenTemporaryChainsIgnoringErrors()
    {
        var commands = LearningRules.CleanAllCommands("vnet0");
        Assert.All(commands, c => Assert.True(c.IgnoreErrors));
        Assert.Equal(
        [
            $"{Eb} -D PREROUTING -i vnet0 -j libvirt-I-vnet0",
            $"{Eb} -D POSTROUTING -o vnet0 -j libvirt-O-vnet0",
            $"{Eb} -L libvirt-I-vnet0",
            $"{Eb} -L libvirt-O-vnet0",
            $"{Eb} -F libvirt-I-vnet0",
            $"{Eb} -X libvirt-I-vnet0",
            $"{Eb} -F libvirt-O-vnet0",
            $"{Eb} -X libvirt-O-vnet0",
            $"{Eb} -D PREROUTING -i vnet0 -j libvirt-J-vnet0",
            $"{Eb} -D POSTROUTING -o vnet0 -j libvirt-P-vnet0",
            $"{Eb} -L libvirt-J-vnet0",
            $"{Eb} -L libvirt-P-vnet0",
            $"{Eb} -F libvirt-J-vnet0",
            $"{Eb} -X libvirt-J-vnet0",
            $"{Eb} -F libvirt-P-vnet0",
            $"{Eb} -X libvirt-P-vnet0",
        ], commands.Select(c => c.ToString()));
    }

    [Fact]
    public void ForPicksTheRulesOfTheMode()
    {
        Assert.Equal("ApplyBasicRules", LearningRules.For("vnet0", Mac, IpLearningMode.Any).Operation);
        Assert.Equal("ApplyDhcpOnlyRules", LearningRules.For("vnet0", Mac, IpLearningMode.Dhcp).Operation);
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRules.For("vnet0", Mac, IpLearningMode.None));
    }

    [Fact]
    public void BadPortNamesAndIPv6ServersAreRefused()
    {
        Assert.Equal("InvalidPortDevice", Assert.Throws<NwFilterException>(() => LearningRules.BasicRules("../x", Mac)).Primary.Code);
        Assert.Equal("InvalidDhcpServer",
            Assert.Throws<NwFilterException>(() => LearningRules.DhcpOnlyRules("vnet0", Mac, [IPAddress.Parse("fd00::1")])).Primary.Code);
    }
}
