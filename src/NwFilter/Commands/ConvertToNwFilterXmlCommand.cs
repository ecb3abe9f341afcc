using System.Management.Automation;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Writes filter and binding objects as libvirt's canonical XML.
/// </summary>
/// <remarks>
/// ConvertTo-NwFilterXml returns the XML that libvirt itself prints for a filter (virsh nwfilter-dumpxml) or a filter
/// binding (virsh nwfilter-binding-dumpxml): attributes in libvirt's order, numbers, addresses and masks in
/// canonical form, negated attributes in a second element with match='no', two-space indentation. The output can be
/// given to virsh nwfilter-define on any libvirt host, or read back with ConvertFrom-NwFilterXml.
/// </remarks>
/// <example>
/// <code>ConvertFrom-NwFilterXml -Path ./my-filter.xml | ConvertTo-NwFilterXml</code>
/// <para>Normalises a filter file to libvirt's canonical form.</para>
/// </example>
/// <example>
/// <code>ConvertFrom-NwFilterXml -Xml "&lt;filter name='f'&gt;&lt;rule action='drop' direction='out'&gt;&lt;ip srcipaddr='10.0.0.1' srcipmask='255.255.255.0'/&gt;&lt;/rule&gt;&lt;/filter&gt;" | ConvertTo-NwFilterXml</code>
/// <para>Shows how libvirt prints the rule: the mask as a prefix length (24) and the rule's default priority (500).</para>
/// </example>
[Cmdlet(VerbsData.ConvertTo, "NwFilterXml")]
[OutputType(typeof(string))]
public sealed class ConvertToNwFilterXmlCommand : NwFilterCmdlet
{
    /// <summary>A filter (FilterDefinition) or a binding (FilterBinding), usually from the pipeline.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public PSObject InputObject { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        switch (InputObject.BaseObject)
        {
            case FilterDefinition filter:
                WriteObject(NwFilterXmlWriter.Write(filter));
                break;
            case FilterBinding binding:
                WriteObject(NwFilterXmlWriter.Write(binding));
                break;
            default:
                WriteError(Diagnostic.Error(
                    "UnsupportedInputType",
                    $"ConvertTo-NwFilterXml takes a filter (FilterDefinition) or a binding (FilterBinding), not a {InputObject.BaseObject?.GetType().FullName ?? "null"}.",
                    DiagnosticCategory.InvalidArgument), InputObject);
                break;
        }
    }
}
