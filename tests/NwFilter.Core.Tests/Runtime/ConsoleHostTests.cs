using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Runtime;

/// <summary>
/// The runtime's second host: a console program with no PowerShell in it drives a binding through the request records
/// (apply, status, remove) in a lab namespace, and the kernel holds the binding's rules, then none.
/// </summary>
[Collection(NetnsCollection.Name)]
public class ConsoleHostTests
{
    [SkippableFact]
    public void AppliesTestsAndRemovesABindingThroughTheRuntime()
    {
        using var lab = BindingLab.Create(vms: 1);
        var vm = lab.Vms[0];
        using var store = new TempDirectory("nwfilter-consolehost");
        var environment = new Dictionary<string, string>
        {
            ["NWFILTER_CONFIG_DIR"] = store.Combine("config"),
            ["NWFILTER_STATE_DIR"] = store.Combine("state"),
        };
        var ns = lab.Lab.HostNamespace;
        Assert.DoesNotContain(vm.PortDevice, lab.Save(), StringComparison.Ordinal);

        var apply = ConsoleHost.Run(environment, "--netns", ns, "apply", vm.PortDevice, vm.Mac, "clean-traffic", "IP=" + vm.IPv4);
        Assert.True(apply.ExitCode == 0, $"apply: {apply.Errors}");
        var rules = lab.Save();
        Assert.Contains($"-A libvirt-I-{vm.PortDevice}", rules, StringComparison.Ordinal);
        Assert.Contains(vm.IPv4, rules, StringComparison.Ordinal); // the binding's own parameter reached the kernel
        Assert.Contains("verbose BindingsApplied: Applied 1 of 1 bindings in network namespace " + ns, apply.Errors, StringComparison.Ordinal);
        Assert.True(File.Exists(store.Combine("state", "netns", ns, "bindings", vm.PortDevice + ".xml")), "the binding is stored for its namespace");

        var status = ConsoleHost.Run(environment, "--netns", ns, "status");
        Assert.True(status.ExitCode == 0, $"status: {status.Errors}");
        Assert.Equal($"{vm.PortDevice} clean-traffic InSync", status.Output.Trim());

        var remove = ConsoleHost.Run(environment, "--netns", ns, "remove", vm.PortDevice);
        Assert.True(remove.ExitCode == 0, $"remove: {remove.Errors}");
        Assert.DoesNotContain(vm.PortDevice, lab.Save(), StringComparison.Ordinal);
        Assert.False(File.Exists(store.Combine("state", "netns", ns, "bindings", vm.PortDevice + ".xml")), "the binding file is gone");

        var again = ConsoleHost.Run(environment, "--netns", ns, "remove", vm.PortDevice);
        Assert.Equal(1, again.ExitCode); // no binding any more: the item's error, reported with its id
        Assert.Contains("error BindingNotFound", again.Errors, StringComparison.Ordinal);
    }
}
