using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using NetArchTest.Rules;
using NwFilter.Core.Tests.TestSupport;

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

    [Fact]
    public void BuiltInFiltersDoNotDependOnTheStore()
    {
        // The store includes the built-in filters; the built-ins know nothing of the store (one direction, no cycle).
        var core = typeof(NwFilter.Core.Model.FilterDefinition).Assembly;
        var result = Types.InAssembly(core).That().ResideInNamespace("NwFilter.Core.BuiltIn")
            .ShouldNot().HaveDependencyOn("NwFilter.Core.Store").GetResult();
        Assert.True(result.IsSuccessful, "BuiltIn types that use Store: " + string.Join(", ", result.FailingTypeNames ?? []));
        var store = Types.InAssembly(core).That().ResideInNamespace("NwFilter.Core.Store").And().HaveDependencyOn("NwFilter.Core.BuiltIn").GetTypes();
        Assert.NotEmpty(store); // the arrow that remains: the store uses the built-ins (so the rule above can see a dependency)
    }

    [Fact]
    public void TheRuntimeDoesNotDependOnAHost()
    {
        var core = typeof(NwFilter.Core.Model.FilterDefinition).Assembly;
        var result = Types.InAssembly(core).That().ResideInNamespace("NwFilter.Core")
            .ShouldNot().HaveDependencyOnAny("System.Management.Automation", "NwFilter.Commands").GetResult();
        Assert.True(result.IsSuccessful, "core types that use a host: " + string.Join(", ", result.FailingTypeNames ?? []));
    }

    [Fact]
    public void TheConsoleHostDoesNotReferencePowerShell()
    {
        var dll = ConsoleHost.AssemblyPath();
        using var pe = new PEReader(File.OpenRead(dll));
        var metadata = pe.GetMetadataReader();
        var references = metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name)).ToList();
        Assert.Contains("NwFilter.Core", references);
        Assert.DoesNotContain("System.Management.Automation", references);
        Assert.DoesNotContain("NwFilter", references); // the module
        // Nor anything it loads: its dependency manifest names every assembly it may load.
        var deps = File.ReadAllText(Path.ChangeExtension(dll, ".deps.json"));
        Assert.DoesNotContain("System.Management.Automation", deps, StringComparison.Ordinal);
        Assert.DoesNotContain("PowerShell", deps, StringComparison.Ordinal);
    }
}
