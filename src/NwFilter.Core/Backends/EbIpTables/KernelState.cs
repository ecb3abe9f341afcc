using NwFilter.Core.Host;

namespace NwFilter.Core.Backends.EbIpTables;

/// <summary>
/// The three tables NwFilter's ebtables/iptables backend touches: ebtables <c>nat</c>, iptables and ip6tables
/// <c>filter</c>. Read once per operation (one <c>*-save</c> per family, <see cref="Kernel.XtablesStateReader"/>), then
/// modelled while planning.
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
}
