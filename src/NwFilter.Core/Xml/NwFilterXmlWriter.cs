using NwFilter.Core.Model;

namespace NwFilter.Core.Xml;

/// <summary>
/// Writes the model as libvirt's canonical XML: byte for byte what <c>virsh nwfilter-dumpxml</c> and
/// <c>virsh nwfilter-binding-dumpxml</c> print (two-space indent, single quotes, a final newline).
/// </summary>
public static class NwFilterXmlWriter
{
    public static string Write(FilterDefinition filter) => throw new NotImplementedException();

    public static string Write(FilterBinding binding) => throw new NotImplementedException();
}
