using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Daemon;

/// <summary>
/// First start on a libvirt host (<c>--import-libvirt</c>, docs/design/libvirt-daemon.md, "Moving a libvirt host over"):
/// libvirt's filters (<c>/etc/libvirt/nwfilter/*.xml</c>) and the bindings its driver keeps for the running VMs
/// (<c>/run/libvirt/nwfilter-binding/*.xml</c>) become nwfilterd's, so the host moves over with its filters and its
/// running guests stay filtered. What nwfilterd already holds wins: a filter defined in its store is not replaced by
/// libvirt's file, a port it already binds is not re-bound, so running the import at every start is harmless. Bindings
/// are taken over in EbIpTables mode, which writes libvirt's very chain names (<c>libvirt-I-PORT</c>, ...): each port's
/// new chains are built beside libvirt's and swapped in, so the port is never unfiltered.
/// </summary>
internal static class LibvirtImport
{
    /// <summary>libvirt's filter directory.</summary>
    public const string DefaultFilterDirectory = LibvirtFilterFiles.SystemDirectory;

    /// <summary>Imports; returns false when a filter or a binding could not be imported (each is logged; the others are in).</summary>
    public static async Task<bool> RunAsync(NwFilterRuntime runtime, string filterDirectory, string bindingDirectory, DaemonLog log, CancellationToken cancellationToken)
    {
        var ok = true;
        if (Directory.Exists(filterDirectory))
        {
            var documents = LibvirtFilterFiles.ReadDirectory(filterDirectory, XmlReadOptions.LenientDefault);
            foreach (var bad in documents.Where(d => !d.Succeeded))
            {
                log.Line($"import: filter file {bad.Source} not imported: {string.Join("; ", bad.Diagnostics)}");
                ok = false;
            }
            // Ours wins: only names nwfilterd's store does not define (libvirt's copies of the built-ins shadow NwFilter's
            // only where they differ: SkipUnchanged leaves the equal ones alone).
            // A libvirt copy of a built-in that differs (libvirt's own clean-traffic-gateway, say) is imported under the
            // built-in's name-based uuid: libvirt gives its shipped filters random uuids per host.
            var filters = documents.Where(d => d.Succeeded && runtime.Filters.Get(d.Filter!.Name) is not { Origin: not FilterOrigin.BuiltIn })
                .Select(d => runtime.Filters.Get(d.Filter!.Name) is { Origin: FilterOrigin.BuiltIn } ? d.Filter! with { Uuid = null } : d.Filter!).ToList();
            if (filters.Count > 0)
            {
                var defined = await runtime.HandleAsync(new DefineFiltersRequest(filters, AllOrNothing: false, SkipUnchanged: true), log, cancellationToken).ConfigureAwait(false);
                foreach (var item in defined.Items)
                {
                    if (item.Error is { } e)
                    {
                        log.Line($"import: filter {item.Input.Name} not imported: {e.Message}");
                        ok = false;
                    }
                    else if (item.Result is { Outcome: not DefineOutcome.Unchanged } r)
                    {
                        log.Line($"import: filter {r.Filter.Name} {r.Outcome.ToString().ToLowerInvariant()} from {filterDirectory} ({r.Filter.Uuid})");
                    }
                }
                if (defined.Error is { } whole)
                {
                    log.Line($"import: filters not imported: {whole.Message}");
                    ok = false;
                }
            }
        }
        else
        {
            log.Line($"import: no libvirt filter directory {filterDirectory}");
        }

        if (!Directory.Exists(bindingDirectory))
        {
            log.Line($"import: no libvirt binding directory {bindingDirectory}");
            return ok;
        }
        var held = runtime.Manager(null).Store.List().Bindings.Select(b => b.PortDevice).ToHashSet(StringComparer.Ordinal);
        var bindings = new List<FilterBinding>();
        foreach (var path in Directory.EnumerateFiles(bindingDirectory, "*.xml").Order(StringComparer.Ordinal))
        {
            try
            {
                var binding = NwFilterXmlReader.ReadBinding(BindingOfStatusFile(path), XmlReadOptions.LenientDefault with { SourceName = path }).Value;
                if (held.Contains(binding.PortDevice))
                {
                    continue;
                }
                // libvirt's chains, libvirt's chain names: the EbIpTables backend takes them over port by port.
                bindings.Add(binding with { Backend = FirewallBackendKind.EbIpTables, BackendUnset = false });
            }
            catch (Exception e) when (e is NwFilter.Core.Diagnostics.NwFilterException or IOException or UnauthorizedAccessException)
            {
                log.Line($"import: binding file {path} not imported: {e.Message}");
                ok = false;
            }
        }
        if (bindings.Count > 0)
        {
            var applied = await runtime.HandleAsync(new ApplyBindingsRequest(bindings), log, cancellationToken).ConfigureAwait(false);
            foreach (var item in applied.Items)
            {
                log.Line(item.Error is { } e
                    ? $"import: binding {item.PortDevice} not imported: {e.Message}"
                    : $"import: binding {item.PortDevice} ({item.Binding?.Filter}) taken over from libvirt");
                ok &= item.Succeeded;
            }
        }
        return ok;
    }

    /// <summary>
    /// The <c>&lt;filterbinding&gt;</c> of a libvirt binding file: libvirt 9.0 keeps it inside <c>&lt;filterbindingstatus&gt;</c>
    /// (after a comment); a bare <c>&lt;filterbinding&gt;</c> document is taken as it is.
    /// </summary>
    internal static string BindingOfStatusFile(string path)
    {
        var text = DocumentFile.ReadText(path);
        System.Xml.Linq.XDocument document;
        try
        {
            document = System.Xml.Linq.XDocument.Parse(text);
        }
        catch (System.Xml.XmlException)
        {
            return text; // the reader reports what is wrong, with its place
        }
        return document.Root is { Name.LocalName: "filterbindingstatus" } status && status.Element("filterbinding") is { } inner
            ? inner.ToString()
            : text;
    }

    /// <summary>libvirt's bindings for ports nwfilterd does not hold: those its own driver would fight over.</summary>
    public static IReadOnlyList<string> Unheld(NwFilterRuntime runtime, IReadOnlyList<string> libvirtPorts)
    {
        var held = runtime.Manager(null).Store.List().Bindings.Select(b => b.PortDevice).ToHashSet(StringComparer.Ordinal);
        return [.. libvirtPorts.Where(p => !held.Contains(p))];
    }
}
