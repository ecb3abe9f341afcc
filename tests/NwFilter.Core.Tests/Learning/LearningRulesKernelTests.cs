using System.Net.NetworkInformation;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Learning;
using NwFilter.Core.Resolution;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Learning;

/// <summary>The learning-phase plans on the real kernel leave what libvirt 9.0 left.</summary>
[Collection(NetnsCollection.Name)]
public sealed class LearningRulesKernelTests
{
    private static readonly PhysicalAddress Mac = PhysicalAddress.Parse("52-54-00-AA-BB-EE");

    [SkippableFact]
    public void BasicRulesDirectlyOrBuiltTemporaryAndSwappedLeaveLibvirtsTables()
    {
        using var lab = NetnsLab.Create(1);
        var expected = LibvirtCapture.Save("04-clean-traffic-iplearning-vnet0.ebtables-save.txt");

        LabPlanRunner.Apply(lab, LearningRules.BasicRules("vnet0", Mac));
        Assert.Equal(expected, LibvirtCapture.WithoutComments(lab.RunInHostChecked("ebtables-save").StandardOutput));

        // Again through the build-then-swap shape: the temporary chains, then libvirt's swap (tearOldRules).
        LabPlanRunner.Apply(lab, EbIpTablesBackend.Instance.AllTeardown("vnet0"));
        LabPlanRunner.Apply(lab, LearningRules.AsNewRules("vnet0", Mac, IpLearningMode.Any));
        Assert.Contains("-A PREROUTING -i vnet0 -j libvirt-J-vnet0", lab.RunInHostChecked("ebtables-save").StandardOutput, StringComparison.Ordinal);
        LabPlanRunner.Apply(lab, EbIpTablesBackend.Instance.TearOldRules("vnet0"));
        Assert.Equal(expected, LibvirtCapture.WithoutComments(lab.RunInHostChecked("ebtables-save").StandardOutput));
    }

    [SkippableFact]
    public void DhcpOnlyRulesSwappedInReplaceTheBasicRules()
    {
        using var lab = NetnsLab.Create(1);
        LabPlanRunner.Apply(lab, LearningRules.BasicRules("vnet0", Mac));
        LabPlanRunner.Apply(lab, LearningRules.AsNewRules("vnet0", Mac, IpLearningMode.Dhcp, [System.Net.IPAddress.Parse("10.213.0.1")]));
        LabPlanRunner.Apply(lab, EbIpTablesBackend.Instance.TearOldRules("vnet0"));

        var direct = NetnsLab.Create(1);
        using (direct)
        {
            LabPlanRunner.Apply(direct, LearningRules.DhcpOnlyRules("vnet0", Mac, [System.Net.IPAddress.Parse("10.213.0.1")]));
            Assert.Equal(
                LibvirtCapture.WithoutComments(direct.RunInHostChecked("ebtables-save").StandardOutput),
                LibvirtCapture.WithoutComments(lab.RunInHostChecked("ebtables-save").StandardOutput));
        }
    }
}
