namespace NwFilter.Core.Xml;

/// <summary>How a document is read.</summary>
internal sealed record XmlReadOptions
{
    public static XmlReadOptions Strict { get; } = new();
    public static XmlReadOptions LenientDefault { get; } = new() { Lenient = true };

    /// <summary>
    /// Accept unknown elements and attributes with a warning, as plain libvirt does. Strict (the default) refuses them,
    /// as <c>virsh nwfilter-define --validate</c> does: a typo in an attribute name must not widen a rule.
    /// </summary>
    public bool Lenient { get; init; }

    /// <summary>The file path or name reported in diagnostics.</summary>
    public string? SourceName { get; init; }
}
