using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Host;

/// <summary>Translated libvirt command streams, applied in a lab namespace, give exactly what libvirt installed.</summary>
[Collection(NetnsCollection.Name)]
public sealed class RestoreScriptKernelTests
{
    // libvirt's cleanup commands (-D/-F/-X of chains that may not exist) run with errors ignored; in one all-or-nothing
    // transaction they would fail it, so we replay only the operations that create and fill (one transaction), then
    // the renames (a second one: nf_tables cannot rename a chain created in the same transaction).
    private static readonly HashSet<string> BuildOperations = ["-N", "-A", "-I"];
    private static readonly HashSet<string> RenameOperations = ["-E"];

    [SkippableFact]
    public void TranslatedCleanTrafficAndCustomFiltersReproduceLibvirtsSaveOutput()
    {
        Corpus.Require();
        using var lab = NetnsLab.Create(2);

        Apply(lab, "01-clean-traffic-vnet0.commands.txt");
        Assert.Equal(LibvirtCapture.Save("01-clean-traffic-vnet0.ebtables-save.txt"), Save(lab, "ebtables-save"));

        Apply(lab, "02-custom-vnet1.commands.txt");
        Assert.Equal(LibvirtCapture.Save("02-custom-plus-clean-traffic.ebtables-save.txt"), Save(lab, "ebtables-save"));
        Assert.Equal(Counterless(LibvirtCapture.Save("02-custom-plus-clean-traffic.iptables-save.txt")), Counterless(Save(lab, "iptables-save")));
    }

    [SkippableFact]
    public void ARestoreFileThatFailsHalfwayChangesNothing()
    {
        Corpus.Require();
        using var lab = NetnsLab.Create(1);
        Apply(lab, "01-clean-traffic-vnet0.commands.txt");
        var before = Save(lab, "ebtables-save");

        var script = RestoreScript.Translate([
            ("ebtables", ["-t", "nat", "-N", "J-vnet0-new"]),
            ("ebtables", ["-t", "nat", "-A", "J-vnet0-new", "-j", "DROP"]),
            ("ebtables", ["-t", "nat", "-D", "PREROUTING", "-i", "vnet0", "-j", "libvirt-I-vnet0"]),
            ("ebtables", ["-t", "nat", "-D", "libvirt-I-vnet0", "-p", "IPv6", "-j", "ACCEPT"]), // no such rule: fails
            ("ebtables", ["-t", "nat", "-F", "libvirt-I-vnet0"]),
        ]);
        var result = lab.Restore("ebtables-restore", script.Batches[0].Text);

        Assert.False(result.Succeeded);
        Assert.Equal(before, Save(lab, "ebtables-save"));
    }

    [SkippableFact]
    public void AChainCannotBeRenamedInTheTransactionThatCreatesIt()
    {
        using var lab = NetnsLab.Create(1);
        Assert.False(lab.Restore("ebtables-restore", "*nat\n-N libvirt-J-vnet0\n-E libvirt-J-vnet0 libvirt-I-vnet0\nCOMMIT\n").Succeeded);
        Assert.False(lab.Restore("iptables-restore", "*filter\n-N FJ-vnet0\n-E FJ-vnet0 FI-vnet0\nCOMMIT\n").Succeeded);
        lab.Restore("iptables-restore", "*filter\n-N FJ-vnet0\nCOMMIT\n").EnsureSuccess();
        lab.Restore("iptables-restore", "*filter\n-E FJ-vnet0 FI-vnet0\nCOMMIT\n").EnsureSuccess();
    }

    private static void Apply(NetnsLab lab, string commandsFile)
    {
        var all = LibvirtCapture.Commands(commandsFile);
        var build = all.Where(c => c.Arguments.Any(BuildOperations.Contains)).ToList();

        // libvirt renames every chain it might have made (errors ignored); replay the renames of chains it did make.
        var created = build.Where(c => c.Arguments.Contains("-N"))
            .Select(c => (c.Program, c.Arguments[c.Arguments.ToList().IndexOf("-N") + 1]))
            .ToHashSet();
        var renames = all.Where(c => c.Arguments.Any(RenameOperations.Contains)
            && created.Contains((c.Program, c.Arguments[c.Arguments.ToList().IndexOf("-E") + 1])));

        foreach (var commands in new[] { build, renames })
        {
            var script = RestoreScript.Translate(commands);
            Assert.Empty(script.Separate);
            foreach (var batch in script.Batches)
            {
                lab.Restore(batch.RestoreProgram, batch.Text).EnsureSuccess();
            }
        }
    }

    private static string Save(NetnsLab lab, string saveProgram) =>
        LibvirtCapture.WithoutComments(lab.RunInHostChecked(saveProgram).StandardOutput);

    private static string Counterless(string save) => save.Replace(" [0:0]", string.Empty, StringComparison.Ordinal);
}
