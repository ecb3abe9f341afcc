using NwFilter.Core.Backends.Nftables;

namespace NwFilter.Core.Tests.Drift;

/// <summary>The nft footprint of a port does not depend on the id and generation it got, and nothing else is hidden.</summary>
public sealed class NftFootprintTests
{
    // As nft 1.0.6 lists a port with layer-4 rules: the id folded into the mark masks.
    private static string Listing(int id, int gen, string extra = "", string otherPort = "xvnet0") => $$"""
        table bridge nwfilter {
        	map from-vm {
        		type ifname : verdict
        		elements = { "vnet0" : jump vnet0/{{id}}/{{gen}}/I,
        			     "{{otherPort}}" : jump {{otherPort}}/9/1/I }
        	}
        	chain prerouting {
        		type filter hook prerouting priority -300; policy accept;
        		iifname vmap @from-vm
        	}
        	chain vnet0/{{id}}/{{gen}}/I {
        		meta mark set meta mark & 0x{{(0xffff0000u | (uint)id):x8}} | 0x{{id:x8}}
        		ether type ip jump vnet0/{{id}}/{{gen}}/I-ipv4{{extra}}
        	}
        	chain vnet0/{{id}}/{{gen}}/M {
        		meta mark set meta mark & 0x{{(0x0000ffffu | ((uint)id << 16)):x8}} | 0x{{(uint)id << 16:x8}}
        	}
        	chain {{otherPort}}/9/1/I {
        		drop
        	}
        }
        table inet nwfilter {
        	map forward-to-vm {
        		type mark : verdict
        		elements = { 0x{{(uint)id << 16:x8}} : jump vnet0/{{id}}/{{gen}}/FO }
        	}
        	chain vnet0/{{id}}/{{gen}}/FO {
        		meta nfproto ipv4 meta l4proto tcp ct state established ct direction original accept comment "nwf:3 100 test-eth0 0x0000000c"
        	}
        }
        """;

    private static List<string> Of(string listing, string port = "vnet0") => new NftFootprintView(listing).Of(port, out _);

    [Fact]
    public void TheSamePortWithAnotherIdAndGenerationHasTheSameFootprint()
    {
        var a = Of(Listing(12, 3));
        var b = Of(Listing(1, 1));
        Assert.Equal(a, b);
        Assert.Contains("nft bridge chain vnet0/I: meta mark set meta mark & <0xffff0000|id> | <id>", a);
        Assert.Contains("nft bridge chain vnet0/M: meta mark set meta mark & <0x0000ffff|id<<16> | <id<<16>", a);
        Assert.Contains("nft bridge map from-vm: \"vnet0\" : jump vnet0/I", a);
        Assert.Contains("nft inet map forward-to-vm: <id<<16> : jump vnet0/FO", a);
        // A constant that is not the port's id is kept, inside a comment too.
        Assert.Contains(a, l => l.EndsWith("test-eth0 0x0000000c\"", StringComparison.Ordinal));
    }

    [Fact]
    public void AnotherRuleOrAnotherPortsElementIsNotHidden()
    {
        Assert.NotEqual(Of(Listing(1, 1)), Of(Listing(1, 1, " drop")));
        // xvnet0's element mentions "vnet0/9/1/I" as a substring: it is not vnet0's.
        Assert.DoesNotContain(Of(Listing(1, 1)), l => l.Contains("xvnet0", StringComparison.Ordinal));
        Assert.Equal(["vnet0", "xvnet0"], new NftFootprintView(Listing(1, 1)).Ports().Order(StringComparer.Ordinal));
    }
}
