namespace NwFilter.Daemon.Tests.Daemon;

public sealed class ArchitectureTests
{
    [Fact]
    public void NwfilterdReferencesNoPowerShell()
    {
        var references = typeof(NwFilter.Daemon.Procedures.NwFilterProcedures).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("NwFilter.Core", references);
        Assert.DoesNotContain(references, n => n!.StartsWith("System.Management.Automation", StringComparison.Ordinal) || n == "NwFilter");
    }
}
