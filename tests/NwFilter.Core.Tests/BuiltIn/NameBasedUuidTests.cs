using NwFilter.Core.BuiltIn;

namespace NwFilter.Core.Tests.BuiltIn;

public class NameBasedUuidTests
{
    [Fact]
    public void MatchesTheRfcExample()
    {
        // RFC 9562, appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace.
        var dns = new Guid("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        Assert.Equal(new Guid("2ed6657d-e927-568b-95e1-2665a8aea6a2"), NameBasedUuid.Create(dns, "www.example.com"));
    }

    [Fact]
    public void IsStableAndNameSpecific()
    {
        var a = NameBasedUuid.Create(NameBasedUuid.BuiltInFilterNamespace, "clean-traffic");
        Assert.Equal(a, NameBasedUuid.Create(NameBasedUuid.BuiltInFilterNamespace, "clean-traffic"));
        Assert.NotEqual(a, NameBasedUuid.Create(NameBasedUuid.BuiltInFilterNamespace, "allow-arp"));
        Assert.Equal('5', a.ToString()[14]);
    }
}
