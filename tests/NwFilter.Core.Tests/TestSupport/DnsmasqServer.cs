using System.Globalization;
using System.Text.RegularExpressions;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// A dnsmasq DHCP server (no DNS) on one interface of a lab namespace, with its lease file in a temporary directory.
/// Started in the foreground under the lab, so disposing it (or the lab) kills it.
/// </summary>
public sealed partial class DnsmasqServer : IDisposable
{
    private readonly LabProcess process;
    private readonly TempDirectory directory;

    private DnsmasqServer(LabProcess process, TempDirectory directory)
    {
        this.process = process;
        this.directory = directory;
    }

    /// <summary>The lease file dnsmasq writes.</summary>
    public string LeaseFile => directory.Combine("dnsmasq.leases");

    /// <summary>What dnsmasq logged (DHCP transactions with --log-dhcp).</summary>
    public string Log => process.Error;

    /// <summary>
    /// Starts dnsmasq in <paramref name="namespaceName"/> serving <paramref name="rangeStart"/>-<paramref name="rangeEnd"/>
    /// (/24) on <paramref name="interfaceName"/>; returns once it serves.
    /// </summary>
    public static DnsmasqServer Start(NetnsLab lab, string namespaceName, string interfaceName, string rangeStart, string rangeEnd, TimeSpan? leaseTime = null)
    {
        var minutes = (int)Math.Ceiling((leaseTime ?? TimeSpan.FromHours(1)).TotalMinutes);
        var directory = new TempDirectory("nwfilter-dnsmasq");
        var process = lab.StartBackground(namespaceName, "dnsmasq",
            "--no-daemon", "--conf-file=/dev/null", "--port=0", "--log-facility=-", "--log-dhcp",
            "--user=root", "--group=root", "--pid-file=" + directory.Combine("dnsmasq.pid"),
            "--interface=" + interfaceName, "--bind-interfaces", "--except-interface=lo", "--dhcp-authoritative",
            $"--dhcp-range={rangeStart},{rangeEnd},255.255.255.0,{minutes.ToString(CultureInfo.InvariantCulture)}m",
            "--dhcp-leasefile=" + directory.Combine("dnsmasq.leases"));
        var server = new DnsmasqServer(process, directory);
        try
        {
            process.WaitForError("DHCP, IP range", TimeSpan.FromSeconds(10));
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>The address dnsmasq acknowledged for <paramref name="mac"/> (from its log), or null.</summary>
    public string? AckedAddress(string mac)
    {
        var match = AckLine().Matches(Log).LastOrDefault(m => string.Equals(m.Groups[2].Value, mac, StringComparison.OrdinalIgnoreCase));
        return match?.Groups[1].Value;
    }

    public void Dispose()
    {
        process.Dispose();
        directory.Dispose();
    }

    [GeneratedRegex(@"DHCPACK\([^)]*\) ([0-9.]+) ([0-9a-f:]{17})", RegexOptions.IgnoreCase)]
    private static partial Regex AckLine();
}
