namespace NwFilter.Core.Diagnostics;

/// <summary>
/// The limits that keep hostile input bounded in time and memory; each has its own error id (docs/design/limits.md
/// lists them all). They are far above what real filters use (libvirt's built-in filters: depth 5, 4 references
/// deep, under 30 rule instances per port), so only a document or a tree built to exhaust the host reaches them.
/// </summary>
internal static class Limits
{
    /// <summary>The largest document file read, in bytes (<c>DocumentTooLarge</c>).</summary>
    public const int MaxDocumentBytes = 16 * 1024 * 1024;

    /// <summary>The longest document text read, in characters (<c>DocumentTooLarge</c>).</summary>
    public const int MaxDocumentChars = 16 * 1024 * 1024;

    /// <summary>
    /// The deepest element nesting in a document, the root being 1 (<c>NestingTooDeep</c>): libxml2's default
    /// (<c>xmlParserMaxDepth</c>), so that every document libvirt reads is read here too.
    /// </summary>
    public const int MaxElementDepth = 256;

    /// <summary>The deepest chain of filter references from a binding's top filter, the top being 1 (<c>FilterReferenceTooDeep</c>).</summary>
    public const int MaxReferenceDepth = 64;

    /// <summary>
    /// The most filter references followed while flattening one filter tree, counting each path through a filter
    /// that is reached more than once (<c>TooManyFilterReferences</c>): bounds a diamond of references.
    /// </summary>
    public const int MaxReferencesFollowed = 10_000;

    /// <summary>The most values a list variable may hold when a rule uses it (<c>VariableListTooLong</c>).</summary>
    public const int MaxListLength = 1_000;

    /// <summary>The most rule instances one binding may resolve to, every combination counted (<c>TooManyRuleInstances</c>).</summary>
    public const int MaxRuleInstances = 10_000;
}
