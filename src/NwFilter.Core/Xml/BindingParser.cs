using System.Net.NetworkInformation;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;
using static NwFilter.Core.Xml.XmlDiagnosticCodes;

namespace NwFilter.Core.Xml;

/// <summary>The <c>&lt;filterbinding&gt;</c> grammar (libvirt's virnwfilterbindingdef.c).</summary>
internal sealed class BindingParser(XmlReadOptions options) : DocumentParser(options)
{
    /// <summary>The XML namespace of NwFilter's own binding elements (libvirt's reader ignores elements it does not know).</summary>
    public const string OwnNamespace = "https://nwfilter.dev/xmlns/binding/1";

    /// <summary>The prefix the writer gives <see cref="OwnNamespace"/> (the reader requires it, declared on the element).</summary>
    public const string OwnPrefix = "nwfilter";

    /// <summary>The per-rule counters element (<see cref="FilterBinding.Counters"/>).</summary>
    public const string CountersElement = OwnPrefix + ":counters";

    public ReadResult<FilterBinding> Read(string xml)
    {
        var root = LoadRoot(new StringReader(xml), xml);
        return Finish(root is null ? null : Parse(root));
    }

    public ReadResult<FilterBinding> Read(XmlNode root) => Finish(Parse(root));

    private FilterBinding? Parse(XmlNode root)
    {
        if (root.Name != "filterbinding")
        {
            Error(WrongRootElement, $"Expected root element <filterbinding>, found <{root.Name}>", root, value: root.Name);
            return null;
        }
        CheckAttributes(root);
        CheckNoText(root);
        foreach (var c in root.Children)
        {
            if (c.Name is not ("owner" or "portdev" or "linkdev" or "mac" or "filterref" or "backend" or CountersElement))
            {
                UnknownChild(root, c);
            }
        }

        // The port device names the binding: read it first so every diagnostic can name it.
        string? portdev = null;
        var portNode = SingleChild(root, "portdev");
        if (portNode is null)
        {
            Error(MissingElement, "filter binding has no port dev name", root, value: null);
        }
        else
        {
            Leaf(portNode, "name");
            portdev = portNode.AttributeValue("name");
            if (string.IsNullOrEmpty(portdev))
            {
                Error(MissingAttribute, "filter binding has no port dev name", portNode, "name", portdev);
                portdev = null;
            }
            else if (InterfaceNames.Check(portdev) is { } bad)
            {
                // The kernel would refuse it, and it goes into chain names, arguments and the store's file name.
                Error(bad.Code, bad.Message, portNode, portNode.Attribute("name")!.Value);
                portdev = null;
            }
            else
            {
                Subject = portdev;
            }
        }

        string? ownerName = null;
        Guid ownerUuid = default;
        var owner = SingleChild(root, "owner");
        if (owner is null)
        {
            Error(MissingElement, "filter binding has no owner name", root);
        }
        else
        {
            CheckAttributes(owner);
            CheckNoText(owner);
            foreach (var c in owner.Children)
            {
                if (c.Name is not ("name" or "uuid"))
                {
                    UnknownChild(owner, c);
                }
            }
            var nameNode = SingleChild(owner, "name");
            ownerName = nameNode?.StringValue();
            if (string.IsNullOrEmpty(ownerName))
            {
                Error(MissingElement, "filter binding has no owner name", nameNode ?? owner);
                ownerName = null;
            }
            else
            {
                Leaf(nameNode!);
            }
            var uuidNode = SingleChild(owner, "uuid");
            var uuidText = uuidNode?.StringValue();
            if (string.IsNullOrEmpty(uuidText))
            {
                Error(MissingElement, "filter binding has no owner UUID", uuidNode ?? owner);
            }
            else
            {
                Leaf(uuidNode!);
                if (!TextParsers.TryParseUuid(uuidText, out ownerUuid))
                {
                    Error(InvalidUuid, $"Unable to parse UUID '{uuidText}'", uuidNode!, value: uuidText);
                }
            }
        }

        string? linkdev = null;
        if (SingleChild(root, "linkdev") is { } linkNode)
        {
            Leaf(linkNode, "name");
            linkdev = linkNode.AttributeValue("name");
            if (string.IsNullOrEmpty(linkdev))
            {
                Error(MissingAttribute, "filter binding has no link dev name", linkNode, "name", linkdev);
            }
        }

        PhysicalAddress? mac = null;
        var macNode = SingleChild(root, "mac");
        if (macNode is null)
        {
            Error(MissingElement, "filter binding has no MAC address", root);
        }
        else
        {
            Leaf(macNode, "address");
            var address = macNode.Attribute("address");
            if (address is null || address.Value.Value.Length == 0)
            {
                Error(MissingAttribute, "filter binding has no MAC address", macNode, "address", address?.Value);
            }
            else
            {
                Span<byte> bytes = stackalloc byte[6];
                if (TextParsers.TryParseMac(address.Value.Value, bytes))
                {
                    mac = new PhysicalAddress(bytes.ToArray());
                }
                else
                {
                    Error(InvalidMacAddress, $"Unable to parse MAC '{address.Value.Value}'", macNode, address.Value);
                }
            }
        }

        string? filter = null;
        var parameters = ParameterSet.Empty;
        var refNode = SingleChild(root, "filterref");
        if (refNode is null)
        {
            Error(MissingElement, "filter binding has no filter reference", root);
        }
        else
        {
            CheckAttributes(refNode, "filter");
            CheckNoText(refNode);
            filter = refNode.AttributeValue("filter");
            if (string.IsNullOrEmpty(filter))
            {
                Error(MissingAttribute, "filter binding has no filter reference", refNode, "filter", filter);
            }
            parameters = ReadParameters(refNode);
        }

        // libvirt's unmerged nftables series: <backend name='iptables|nftables'/> after <filterref>.
        var backend = FirewallBackendKind.EbIpTables;
        if (SingleChild(root, "backend") is { } backendNode)
        {
            Leaf(backendNode, "name");
            var name = backendNode.AttributeValue("name");
            switch (name)
            {
                case "iptables":
                    break;
                case "nftables":
                    backend = FirewallBackendKind.Nftables;
                    break;
                case null or "":
                    Error(MissingAttribute, "filter binding backend has no name (expected 'iptables' or 'nftables')", backendNode, "name", name);
                    break;
                default:
                    StrictError(InvalidAttributeValue,
                        $"Unknown filter binding backend '{name}': expected 'iptables' (ebtables, iptables, ip6tables) or 'nftables'" +
                        (Options.Lenient ? "; the binding uses 'iptables'" : ""),
                        backendNode, "name", name);
                    break;
            }
        }

        bool? counters = null;
        if (SingleChild(root, CountersElement) is { } countersNode)
        {
            Leaf(countersNode, "xmlns:" + OwnPrefix, "enabled");
            var ns = countersNode.AttributeValue("xmlns:" + OwnPrefix);
            var enabled = countersNode.AttributeValue("enabled");
            if (ns != OwnNamespace)
            {
                Error(InvalidAttributeValue, $"<{CountersElement}> must declare xmlns:{OwnPrefix}='{OwnNamespace}'", countersNode, "xmlns:" + OwnPrefix, ns);
            }
            switch (enabled)
            {
                case "yes":
                    counters = true;
                    break;
                case "no":
                    counters = false;
                    break;
                default:
                    Error(InvalidAttributeValue, $"<{CountersElement}> enabled must be 'yes' or 'no', not '{enabled}'", countersNode, "enabled", enabled);
                    break;
            }
        }

        if (HasErrors || portdev is null || mac is null || filter is null || ownerName is null)
        {
            return null;
        }
        return new FilterBinding(portdev, mac, filter)
        {
            OwnerName = ownerName,
            OwnerUuid = ownerUuid,
            LinkDevice = linkdev,
            Parameters = parameters,
            Backend = backend,
            Counters = counters,
        };
    }

    /// <summary>Checks an element that has only the given attributes, no children and no text.</summary>
    private void Leaf(XmlNode node, params string[] attributes)
    {
        CheckAttributes(node, attributes);
        foreach (var c in node.Children)
        {
            UnknownChild(node, c);
        }
        if (attributes.Length > 0)
        {
            CheckNoText(node);
        }
    }
}
