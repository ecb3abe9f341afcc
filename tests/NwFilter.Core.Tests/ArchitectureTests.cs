namespace NwFilter.Core.Tests;

public class ArchitectureTests
{
    [Fact]
    public void CoreDoesNotReferencePowerShell()
    {
        var core = typeof(NwFilter.Core.Model.FilterDefinition).Assembly;
        var names = core.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("System.Management.Automation", names);
        Assert.Contains("System.Runtime", names);
    }
}
