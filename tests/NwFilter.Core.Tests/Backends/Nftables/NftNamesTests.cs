using NwFilter.Core.Backends.Nftables;

namespace NwFilter.Core.Tests.Backends.Nftables;

/// <summary>Chain names: bare nft words whatever the port or chain suffix holds, and readable back.</summary>
public class NftNamesTests
{
    [Theory]
    [InlineData("vnet0", "vnet0")]
    [InlineData("tap-vm.1", "tap-vm.1")]
    [InlineData("my_tap", "my__tap")]
    [InlineData("1tap", "_31tap")]
    [InlineData("tap@x+", "tap_40x_2b")]
    [InlineData("tätä", "t_c3_a4t_c3_a4")]
    public void PortNamesAreEscapedIntoBareWordsAndReadBack(string port, string escaped)
    {
        Assert.Equal(escaped, NftNames.Escape(port));
        var chain = NftNames.Chain(port, 12, 3, NftNames.SubChainRole("I", "arp:x_1"));
        Assert.Matches("^[A-Za-z_.][A-Za-z0-9/_.-]*$", chain);
        Assert.True(NftNames.TryParseChain(chain, out var back, out var id, out var generation, out var role));
        Assert.Equal((port, 12, 3, "I-arp_3ax__1"), (back, id, generation, role));
    }

    [Theory]
    [InlineData("prerouting")]
    [InlineData("vnet0/0/1/I")]
    [InlineData("vnet0/1/0/I")]
    [InlineData("vnet0/70000/1/I")]
    [InlineData("vnet0/1/1/")]
    [InlineData("vnet_zz/1/1/I")]
    [InlineData("a/b/1/1/I")]
    public void NamesThatAreNotOursAreNotRead(string name) => Assert.False(NftNames.TryParseChain(name, out _, out _, out _, out _));
}
