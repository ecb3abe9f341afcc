using NwFilter.Core.Host;

namespace NwFilter.Core.Apply;

/// <summary>
/// The three tables NwFilter's ebtables/iptables backend touches: ebtables <c>nat</c>, iptables and ip6tables
/// <c>filter</c>. Read once per operation (one <c>*-save</c> per family), then modelled while planning.
/// </summary>
internal sealed class KernelState
{
    public static readonly XtablesFamily[] Families = [XtablesFamily.Ebtables, XtablesFamily.Iptables, XtablesFamily.Ip6tables];

    public KernelState(XtablesTable ebtables, XtablesTable iptables, XtablesTable ip6tables)
    {
        Ebtables = ebtables;
        Iptables = iptables;
        Ip6tables = ip6tables;
    }

    public XtablesTable Ebtables { get; }
    public XtablesTable Iptables { get; }
    public XtablesTable Ip6tables { get; }

    /// <summary>A host with none of NwFilter's chains (what -WhatIf assumes when the firewall cannot be read).</summary>
    public static KernelState Empty() => new(
        XtablesTable.Parse(XtablesFamily.Ebtables, "nat", "*nat\n:PREROUTING ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\n"),
        XtablesTable.Parse(XtablesFamily.Iptables, "filter", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"),
        XtablesTable.Parse(XtablesFamily.Ip6tables, "filter", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"));

    public XtablesTable For(XtablesFamily family) => family switch
    {
        XtablesFamily.Ebtables => Ebtables,
        XtablesFamily.Iptables => Iptables,
        XtablesFamily.Ip6tables => Ip6tables,
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, null),
    };

    public KernelState Clone() => new(Ebtables.Clone(), Iptables.Clone(), Ip6tables.Clone());

    /// <summary>The save program of a family and its arguments (only NwFilter's table).</summary>
    public static ProcessRequest SaveRequest(XtablesFamily family) =>
        new(RestoreScript.ProgramName(family) + "-save", "-t", XtablesTable.TableOf(family)) { Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Reads the three tables (one save process per family, run together).</summary>
    public static async Task<KernelState> ReadAsync(IProcessRunner runner, ProcessCounter counter, CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(Families.Select(f => counter.RunAsync(runner, SaveRequest(f), cancellationToken))).ConfigureAwait(false);
        var tables = new XtablesTable[3];
        for (var i = 0; i < 3; i++)
        {
            var result = results[i];
            if (!result.Succeeded)
            {
                throw ApplyErrors.ToolFailed("reading the firewall", result, null, null);
            }
            tables[i] = XtablesTable.Parse(Families[i], XtablesTable.TableOf(Families[i]), result.StandardOutput);
        }
        return new KernelState(tables[0], tables[1], tables[2]);
    }
}

/// <summary>Counts the processes an operation launches (the figure that decides its speed) and runs them.</summary>
internal sealed class ProcessCounter
{
    private int _count;

    public int Count => _count;

    public Task<ProcessResult> RunAsync(IProcessRunner runner, ProcessRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        return runner.RunAsync(request, cancellationToken);
    }
}
