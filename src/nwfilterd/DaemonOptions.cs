using NwFilter.Core.Model;

namespace NwFilter.Daemon;

/// <summary>nwfilterd's command line.</summary>
internal sealed record DaemonOptions
{
    /// <summary>Where libvirt's clients find the nwfilter driver (virsh's default for nwfilter:///system).</summary>
    public const string DefaultSocket = "/run/libvirt/virtnwfilterd-sock";

    /// <summary>Where libvirt's own nwfilter driver keeps its bindings (a running one conflicts with EbIpTables mode).</summary>
    public const string DefaultLibvirtBindingDirectory = "/run/libvirt/nwfilter-binding";

    public string Socket { get; init; } = DefaultSocket;

    /// <summary>A read-only socket beside it; null: none.</summary>
    public string? ReadOnlySocket { get; init; }

    /// <summary>The group whose members may use the read-write socket besides root; null: root only.</summary>
    public string? Group { get; init; }

    /// <summary>
    /// The backend of bindings whose XML names none (libvirt's never does); null (<c>--backend auto</c>, the default):
    /// the module's default, chosen by the runtime (a port keeps its stored binding's backend, else NWFILTER_BACKEND,
    /// nwfilter.conf, else Nftables where nftables is usable and EbIpTables where not; docs/design/nftables.md section 9).
    /// </summary>
    public FirewallBackendKind? Backend { get; init; }

    /// <summary>Where libvirt's own driver keeps its bindings (checked for a conflict at start).</summary>
    public string LibvirtBindingDirectory { get; init; } = DefaultLibvirtBindingDirectory;

    /// <summary>How long a request may take to arrive once its first byte came, and a reply to be taken (slow clients are closed).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>nwfilterd's control socket (the cmdlets' and the DSC/Ansible clients' door); null: none (<c>--control-socket none</c>).</summary>
    public string? ControlSocket { get; init; } = NwFilter.Core.Runtime.Control.ControlContract.DefaultSocket;

    /// <summary>Take over libvirt's filters and its driver's bindings at start (<see cref="LibvirtImport"/>).</summary>
    public bool ImportLibvirt { get; init; }

    /// <summary>libvirt's filter directory (what <c>--import-libvirt</c> reads).</summary>
    public string LibvirtFilterDirectory { get; init; } = LibvirtImport.DefaultFilterDirectory;

    /// <summary>Log verbose events and progress too.</summary>
    public bool Verbose { get; init; }

    /// <summary>Re-apply bindings whose rules were removed or changed behind the daemon's back (docs/design/drift-repair.md); on unless --no-drift-repair.</summary>
    public bool DriftRepair { get; init; } = true;

    /// <summary>Give memory back after a burst of work (<see cref="MemoryTrim"/>); on unless --no-memory-trim.</summary>
    public bool MemoryTrim { get; init; } = true;

    public const string Usage =
        "usage: nwfilterd [--libvirt-socket PATH] [--read-only-socket PATH] [--group NAME] [--backend auto|Nftables|EbIpTables]\n" +
        "                 [--libvirt-binding-dir DIR] [--control-socket PATH|none] [--request-timeout SECONDS]\n" +
        "                 [--import-libvirt [--libvirt-filter-dir DIR]] [--no-drift-repair] [--no-memory-trim] [--verbose]\n" +
        "  Serves libvirt's nwfilter RPC for the network namespace it runs in. Filters live in NWFILTER_CONFIG_DIR,\n" +
        "  bindings and leases in NWFILTER_STATE_DIR (the NwFilter module's defaults when unset). SIGTERM stops it;\n" +
        "  the rules in force stay. Rules removed or changed behind its back (nft flush ruleset, another tool) are\n" +
        "  re-applied and logged, unless --no-drift-repair. After a burst of changes it gives free memory back to the\n" +
        "  system (a compacting GC and malloc_trim), unless --no-memory-trim; SIGUSR1 logs its memory.";

    /// <summary>The options of <paramref name="args"/>, or the reason they are refused.</summary>
    public static (DaemonOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var o = new DaemonOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || string.IsNullOrEmpty(args[i + 1]))
                {
                    throw new FormatException($"{a} needs a value");
                }
                return args[++i];
            }
            try
            {
                switch (a)
                {
                    case "--libvirt-socket":
                        o = o with { Socket = Value() };
                        break;
                    case "--read-only-socket":
                        o = o with { ReadOnlySocket = Value() };
                        break;
                    case "--group":
                        o = o with { Group = Value() };
                        break;
                    case "--backend":
                        var b = Value();
                        o = string.Equals(b, "auto", StringComparison.OrdinalIgnoreCase)
                            ? o with { Backend = null }
                            : Enum.TryParse<FirewallBackendKind>(b, ignoreCase: true, out var kind) && Enum.IsDefined(kind) && !b.All(char.IsDigit)
                                ? o with { Backend = kind }
                                : throw new FormatException($"--backend is auto, Nftables or EbIpTables, not '{b}'");
                        break;
                    case "--libvirt-binding-dir":
                        o = o with { LibvirtBindingDirectory = Value() };
                        break;
                    case "--no-memory-trim":
                        o = o with { MemoryTrim = false };
                        break;
                    case "--no-drift-repair":
                        o = o with { DriftRepair = false };
                        break;
                    case "--request-timeout":
                        var t = Value();
                        o = double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 3600
                            ? o with { RequestTimeout = TimeSpan.FromSeconds(seconds) }
                            : throw new FormatException($"--request-timeout is a number of seconds from 0 to 3600, not '{t}'");
                        break;
                    case "--control-socket":
                        var c = Value();
                        o = o with { ControlSocket = c == "none" ? null : c };
                        break;
                    case "--import-libvirt":
                        o = o with { ImportLibvirt = true };
                        break;
                    case "--libvirt-filter-dir":
                        o = o with { LibvirtFilterDirectory = Value() };
                        break;
                    case "--verbose":
                        o = o with { Verbose = true };
                        break;
                    default:
                        return (null, $"unknown argument '{a}'");
                }
            }
            catch (FormatException e)
            {
                return (null, e.Message);
            }
        }
        if (o.ControlSocket is { } control && (control == o.Socket || control == o.ReadOnlySocket))
        {
            return (null, "--control-socket must differ from --libvirt-socket and --read-only-socket");
        }
        if (o.ReadOnlySocket == o.Socket)
        {
            return (null, "--read-only-socket must differ from --libvirt-socket");
        }
        return (o, null);
    }
}
