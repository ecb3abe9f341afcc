using NwFilter.Core.Store;

namespace NwFilter.Core.Tests.Store;

public class StoreLocationTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void RootUsesEtcAndRun()
    {
        var l = StoreLocation.Resolve(Env(("XDG_DATA_HOME", "/home/x/data")), 0, "/root");
        Assert.Equal("/etc/nwfilter", l.ConfigDirectory);
        Assert.Equal("/run/nwfilter", l.StateDirectory);
        Assert.Equal(l.ConfigDirectory, l.FilterDirectory);
    }

    [Fact]
    public void UserUsesXdgDirectories()
    {
        var l = StoreLocation.Resolve(Env(("XDG_DATA_HOME", "/home/u/data"), ("XDG_RUNTIME_DIR", "/run/user/1000")), 1000, "/home/u");
        Assert.Equal("/home/u/data/nwfilter", l.ConfigDirectory);
        Assert.Equal("/run/user/1000/nwfilter", l.StateDirectory);
    }

    [Fact]
    public void UserWithoutXdgFallsBackToLocalShareAndTemp()
    {
        var l = StoreLocation.Resolve(Env(), 1000, "/home/u");
        Assert.Equal("/home/u/.local/share/nwfilter", l.ConfigDirectory);
        Assert.Equal(Path.Combine(Path.GetTempPath(), "nwfilter-1000"), l.StateDirectory);
    }

    [Fact]
    public void RelativeXdgValuesAreIgnored()
    {
        var l = StoreLocation.Resolve(Env(("XDG_DATA_HOME", "rel/data"), ("XDG_RUNTIME_DIR", "rel")), 1000, "/home/u");
        Assert.Equal("/home/u/.local/share/nwfilter", l.ConfigDirectory);
        Assert.Equal(Path.Combine(Path.GetTempPath(), "nwfilter-1000"), l.StateDirectory);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1000u)]
    public void EnvironmentOverridesWinForEveryUser(uint uid)
    {
        var l = StoreLocation.Resolve(
            Env((StoreLocation.ConfigDirectoryVariable, "/tmp/cfg"), (StoreLocation.StateDirectoryVariable, "/tmp/state"), ("XDG_DATA_HOME", "/x")),
            uid, "/home/u");
        Assert.Equal("/tmp/cfg", l.ConfigDirectory);
        Assert.Equal("/tmp/state", l.StateDirectory);
    }

    [Fact]
    public void VariableNamesAreTheDocumentedOnes()
    {
        Assert.Equal("NWFILTER_CONFIG_DIR", StoreLocation.ConfigDirectoryVariable);
        Assert.Equal("NWFILTER_STATE_DIR", StoreLocation.StateDirectoryVariable);
    }
}
