using NwFilter.Core.Backends;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Backends;

/// <summary>The backend setting (environment, configuration file) and the choice it makes with the nftables probe's answer.</summary>
public sealed class BackendSelectionTests : IDisposable
{
    private static readonly NftablesAvailability Usable = new(true, "libnftables.so.1 loads and the kernel's nf_tables answers");
    private static readonly NftablesAvailability Missing = new(false, "the kernel's nf_tables does not answer ('nft list tables': Protocol not supported)");
    private readonly TempDirectory _dir = new("nwfilter-backend-setting");

    public void Dispose() => _dir.Dispose();

    private static Func<string, string?> Env(string? value) => name => name == BackendSelection.Variable ? value : null;

    [Fact]
    public void WithoutAnySettingTheDefaultIsAuto()
    {
        var (preference, source) = BackendSelection.ReadSetting(_dir.Path, Env(null));
        Assert.Equal(BackendPreference.Auto, preference);
        Assert.Contains("default", source, StringComparison.Ordinal);
    }

    [Fact]
    public void TheConfigurationFileSetsTheBackendAndTheEnvironmentWins()
    {
        File.WriteAllText(Path.Combine(_dir.Path, BackendSelection.ConfigFileName), "# NwFilter\n\n  Backend = EbIpTables   # compatibility\n");

        var (fromFile, fileSource) = BackendSelection.ReadSetting(_dir.Path, Env(null));
        var (fromEnv, envSource) = BackendSelection.ReadSetting(_dir.Path, Env("nftables"));

        Assert.Equal(BackendPreference.EbIpTables, fromFile);
        Assert.EndsWith("nwfilter.conf:3 (backend = EbIpTables)", fileSource, StringComparison.Ordinal);
        Assert.Equal(BackendPreference.Nftables, fromEnv);
        Assert.Equal("NWFILTER_BACKEND=nftables", envSource);
    }

    [Theory]
    [InlineData("backend = pf", "nwfilter.conf:1: 'pf' is not a backend")]
    [InlineData("# ok\nbackends = nftables", "nwfilter.conf:2: 'backends = nftables' is not a setting")]
    public void AFileValueThatIsNoBackendIsAnErrorNamingTheFileAndLine(string text, string expected)
    {
        File.WriteAllText(Path.Combine(_dir.Path, BackendSelection.ConfigFileName), text);
        var e = Assert.Throws<NwFilterException>(() => BackendSelection.ReadSetting(_dir.Path, Env(null)));
        Assert.Equal((BackendSelection.BackendSettingInvalid, DiagnosticCategory.InvalidArgument), (e.Primary.Code, e.Primary.Category));
        Assert.Contains(expected, e.Primary.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEnvironmentValueThatIsNoBackendIsAnError()
    {
        var e = Assert.Throws<NwFilterException>(() => BackendSelection.ReadSetting(null, Env("iptables-legacy")));
        Assert.StartsWith("NWFILTER_BACKEND='iptables-legacy' is not a backend", e.Primary.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AutoTakesNftablesWhereUsableAndSaysWhy()
    {
        var choice = BackendSelection.Choose(BackendPreference.Auto, "the default setting (auto)", Usable, []);
        Assert.Equal((FirewallBackendKind.Nftables, false), (choice.Kind, choice.FellBack));
        Assert.Contains(Usable.Reason, choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AutoFallsBackToEbIpTablesOnlyWhereNoNftablesBindingExists()
    {
        var fell = BackendSelection.Choose(BackendPreference.Auto, "auto", Missing, []);
        var refused = Assert.Throws<NwFilterException>(() => BackendSelection.Choose(BackendPreference.Auto, "auto", Missing, ["vnet7", "vnet2"]));

        Assert.Equal((FirewallBackendKind.EbIpTables, true), (fell.Kind, fell.FellBack));
        Assert.Contains("falls back", fell.Reason, StringComparison.Ordinal);
        Assert.Contains(Missing.Reason, fell.Reason, StringComparison.Ordinal);
        Assert.Equal((NftablesCodes.NftUnavailable, DiagnosticCategory.ResourceUnavailable), (refused.Primary.Code, refused.Primary.Category));
        Assert.Contains("nftables bindings of vnet2, vnet7 already exist", refused.Primary.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASetNftablesNeverFallsBackAndASetEbIpTablesNeedsNoProbe()
    {
        var refused = Assert.Throws<NwFilterException>(() => BackendSelection.Choose(BackendPreference.Nftables, "NWFILTER_BACKEND=nftables", Missing, []));
        var eb = BackendSelection.Choose(BackendPreference.EbIpTables, "NWFILTER_BACKEND=ebiptables", Missing, ["vnet1"]);

        Assert.Contains("nftables is set by NWFILTER_BACKEND=nftables", refused.Primary.Message, StringComparison.Ordinal);
        Assert.Equal((FirewallBackendKind.EbIpTables, false), (eb.Kind, eb.FellBack));
    }

    [Fact]
    public void ThisMachinesLibNftablesLoadsOrSaysWhyNot()
    {
        // The library check is real (dlopen of the soname); on a machine without it the reason names the package.
        var why = NwFilter.Core.Runtime.NftablesProbe.LibraryLoads();
        if (why is not null)
        {
            Assert.Contains("libnftables.so.1 cannot be loaded", why, StringComparison.Ordinal);
        }
        else
        {
            Assert.True(File.Exists("/usr/lib/x86_64-linux-gnu/libnftables.so.1") || File.Exists("/usr/lib/libnftables.so.1") || File.Exists("/usr/lib64/libnftables.so.1")
                || File.Exists("/usr/lib/aarch64-linux-gnu/libnftables.so.1"), "it loaded, so the file exists");
        }
    }
}
