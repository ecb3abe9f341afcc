using System.Net;
using System.Net.NetworkInformation;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Learning;

public sealed class LeaseStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly PhysicalAddress Mac = LearningPackets.VmMac;

    private static LearnedAddress Lease(string address, DateTimeOffset? expires, AddressSource source = AddressSource.Dhcp) =>
        new(IPAddress.Parse(address), source, T0, expires, source == AddressSource.Dhcp ? LearningPackets.Server : null);

    [Fact]
    public void SavedAddressesLoadBackUnderTheStateDirectory()
    {
        using var state = new TempDirectory();
        var store = LeaseStore.Open(new StoreLocation(state.Combine("config"), state.Path));
        LearnedAddress[] saved = [Lease("10.213.0.120", T0.AddMinutes(10)), Lease("10.213.0.121", null), Lease("fd00:213::9", null, AddressSource.Ndp)];
        store.Save("vnet0", Mac, IpLearningMode.Dhcp, saved);

        Assert.True(File.Exists(state.Combine("leases", "vnet0.json")));
        Assert.Equal(saved, store.Load("vnet0", Mac, T0.AddMinutes(1)));
        Assert.Empty(Directory.GetFiles(store.Directory, ".*")); // no temporary file left
    }

    [Fact]
    public void EachNamedNamespaceHasItsOwnLeasesBesideItsBindings()
    {
        using var state = new TempDirectory();
        var location = new StoreLocation(state.Combine("config"), state.Path);
        var inNamespace = LeaseStore.Open(location, "lab-1");
        Assert.Equal(state.Combine("netns", "lab-1", "leases"), inNamespace.Directory);
        inNamespace.Save("vnet0", Mac, IpLearningMode.Any, [Lease("10.213.0.10", null, AddressSource.Arp)]);
        Assert.Empty(LeaseStore.Open(location).Load("vnet0", Mac, T0));
        Assert.Single(inNamespace.Load("vnet0", Mac, T0));
        Assert.Throws<NwFilterException>(() => LeaseStore.Open(location, "../x"));
    }

    [Fact]
    public void ExpiredLeasesAreNotLoaded()
    {
        using var state = new TempDirectory();
        var store = new LeaseStore(state.Path);
        store.Save("vnet0", Mac, IpLearningMode.Dhcp, [Lease("10.213.0.120", T0.AddMinutes(10)), Lease("10.213.0.121", T0.AddMinutes(30))]);
        Assert.Equal(["10.213.0.121"], store.Load("vnet0", Mac, T0.AddMinutes(10)).Select(a => a.Address.ToString()));
    }

    [Fact]
    public void AnotherVmOnTheSamePortNameFindsNothing()
    {
        using var state = new TempDirectory();
        var store = new LeaseStore(state.Path);
        store.Save("vnet0", Mac, IpLearningMode.Any, [Lease("10.213.0.10", null, AddressSource.IPv4Packet)]);
        Assert.Empty(store.Load("vnet0", LearningPackets.OtherMac, T0));
        Assert.Empty(store.Load("vnet1", Mac, T0));
    }

    [Fact]
    public void SavingNothingDeletesTheFile()
    {
        using var state = new TempDirectory();
        var store = new LeaseStore(state.Path);
        store.Save("vnet0", Mac, IpLearningMode.Dhcp, [Lease("10.213.0.120", null)]);
        store.Save("vnet0", Mac, IpLearningMode.Dhcp, []);
        Assert.False(File.Exists(store.PathOf("vnet0")));
        Assert.False(store.Delete("vnet0"));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"version\":1,\"mac\":\"52:54:00:d5:00:10\",\"addresses\":[{\"address\":\"nope\"}]}")]
    [InlineData("{\"version\":99,\"mac\":\"52:54:00:d5:00:10\",\"addresses\":[]}")]
    public void ADamagedFileIsReportedNotGuessed(string content)
    {
        using var state = new TempDirectory();
        var store = new LeaseStore(state.Path);
        Directory.CreateDirectory(store.Directory);
        File.WriteAllText(store.PathOf("vnet0"), content);
        var error = Assert.Throws<NwFilterException>(() => store.Load("vnet0", Mac, T0));
        Assert.Equal("LeaseFileDamaged", error.Primary.Code);
        Assert.Equal(store.PathOf("vnet0"), error.Primary.Source);
    }

    [Fact]
    public void PortNamesThatAreNotInterfaceNamesAreRefused()
    {
        var store = new LeaseStore("/tmp/unused");
        Assert.Throws<NwFilterException>(() => store.PathOf("../../etc/passwd"));
    }

    [Fact]
    public void TheFileRecordsModeMacAndTimesInUtc()
    {
        var text = LeaseStore.Format("vnet0", Mac, IpLearningMode.Dhcp,
            [Lease("10.213.0.120", new DateTimeOffset(2026, 3, 1, 2, 0, 0, TimeSpan.FromHours(2)))]);
        Assert.Contains("\"mac\": \"52:54:00:d5:00:10\"", text, StringComparison.Ordinal);
        Assert.Contains("\"mode\": \"dhcp\"", text, StringComparison.Ordinal);
        Assert.Contains("\"expires\": \"2026-03-01T00:00:00.000Z\"", text, StringComparison.Ordinal);
        Assert.Contains("\"server\": \"10.213.0.1\"", text, StringComparison.Ordinal);
    }
}
