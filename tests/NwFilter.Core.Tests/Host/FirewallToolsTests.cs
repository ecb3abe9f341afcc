using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Host;

public sealed class FirewallToolsTests
{
    [Theory]
    [InlineData("iptables v1.8.9 (nf_tables)\n", false, "1.8.9", FirewallToolVariant.NfTables)]
    [InlineData("ebtables 1.8.9 (nf_tables)\n", false, "1.8.9", FirewallToolVariant.NfTables)]
    [InlineData("iptables v1.8.7 (legacy)\n", false, "1.8.7", FirewallToolVariant.Legacy)]
    [InlineData("nftables v1.0.6 (Lester Gooch #5)\n", true, "1.0.6", FirewallToolVariant.Nft)]
    [InlineData("garbage", false, null, FirewallToolVariant.Unknown)]
    public void VersionsAndVariantsAreRead(string text, bool isNft, string? version, FirewallToolVariant variant) =>
        Assert.Equal((version, variant), FirewallTools.ParseVersion(text, isNft));

    [SkippableFact]
    public async Task TheToolsOnThisHostAreFoundWithTheirVariant()
    {
        Requirement.Program("ebtables");
        var tools = await FirewallTools.ProbeToolsAsync(ProcessRunner.Default);
        Assert.Equal(FirewallTools.ToolNames, tools.Select(t => t.Name));
        var ebtablesRestore = tools.Single(t => t.Name == "ebtables-restore");
        Assert.True(ebtablesRestore.Exists);
        Assert.NotNull(ebtablesRestore.Version);
        Assert.NotEqual(FirewallToolVariant.Missing, tools.Single(t => t.Name == "nft").Variant);
    }
}

[Collection(NetnsCollection.Name)]
public sealed class FirewallToolsRestoreProbeTests
{
    [SkippableTheory]
    [InlineData(XtablesFamily.Ebtables)]
    [InlineData(XtablesFamily.Iptables)]
    [InlineData(XtablesFamily.Ip6tables)]
    public async Task RestoreAcceptsEveryLibvirtOperationWithNoFlushAndIsAllOrNothing(XtablesFamily family)
    {
        using var lab = NetnsLab.Create(1);
        var capabilities = await FirewallTools.ProbeRestoreAsync(lab.HostRunner, family);
        Assert.True(capabilities.NoFlush);
        Assert.All(["-N", "-A", "-I", "-D", "-F", "-X", "-E", "-P"], op => Assert.True(capabilities.Operations[op], op));
        Assert.True(capabilities.AllOrNothing);
    }
}
