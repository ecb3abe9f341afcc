namespace NwFilter.Core.Xml;

/// <summary>
/// The stable <see cref="Diagnostics.Diagnostic.Code"/>s the XML reader reports. PowerShell error ids are built from
/// them, so they never change meaning.
/// </summary>
internal static class XmlDiagnosticCodes
{
    /// <summary>The text is not well-formed XML.</summary>
    public const string MalformedXml = nameof(MalformedXml);
    /// <summary>The document has a DOCTYPE (and so possibly entities); refused, nothing is expanded or fetched.</summary>
    public const string DtdProhibited = nameof(DtdProhibited);
    /// <summary>The root element is not the one expected (<c>filter</c>, <c>filterbinding</c>).</summary>
    public const string WrongRootElement = nameof(WrongRootElement);
    /// <summary>A required attribute or element is missing.</summary>
    public const string MissingAttribute = nameof(MissingAttribute);
    /// <summary>A required child element is missing (binding: owner, portdev, mac, filterref).</summary>
    public const string MissingElement = nameof(MissingElement);
    /// <summary>An attribute's value is not acceptable.</summary>
    public const string InvalidAttributeValue = nameof(InvalidAttributeValue);
    /// <summary>An attribute that the element does not have (strict: error; lenient: warning, ignored).</summary>
    public const string UnknownAttribute = nameof(UnknownAttribute);
    /// <summary>An element that is not part of the grammar here (strict: error; lenient: warning, ignored).</summary>
    public const string UnknownElement = nameof(UnknownElement);
    /// <summary>Text where the grammar has none (strict: error; lenient: warning, ignored).</summary>
    public const string UnexpectedText = nameof(UnexpectedText);
    /// <summary>An element given twice where only the first counts (strict: error; lenient: warning).</summary>
    public const string DuplicateElement = nameof(DuplicateElement);
    /// <summary>A rule with elements of two protocols; libvirt ignores all but the first (strict: error).</summary>
    public const string MultipleProtocols = nameof(MultipleProtocols);
    /// <summary>The chain name has characters outside <c>[A-Za-z0-9_.:-]</c> or no allowed prefix.</summary>
    public const string InvalidChainName = nameof(InvalidChainName);
    /// <summary>The chain name is longer than 12 characters.</summary>
    public const string ChainNameTooLong = nameof(ChainNameTooLong);
    /// <summary>The chain priority is outside [-1000, 1000].</summary>
    public const string ChainPriorityOutOfRange = nameof(ChainPriorityOutOfRange);
    /// <summary>A rule priority outside [-1000, 1000] (strict: error; lenient: warning, becomes 500 as in libvirt).</summary>
    public const string RulePriorityOutOfRange = nameof(RulePriorityOutOfRange);
    /// <summary>A chain or rule priority that is not an integer.</summary>
    public const string InvalidPriority = nameof(InvalidPriority);
    /// <summary>A malformed UUID.</summary>
    public const string InvalidUuid = nameof(InvalidUuid);
    /// <summary>A malformed MAC address (binding).</summary>
    public const string InvalidMacAddress = nameof(InvalidMacAddress);
    /// <summary>A malformed variable reference (<c>$</c>, <c>$V[x]</c>, <c>$V[@1001]</c>).</summary>
    public const string InvalidVariableReference = nameof(InvalidVariableReference);
    /// <summary>An ip/ipv6 rule with ports but without protocol tcp, udp, dccp or sctp.</summary>
    public const string InvalidPortSpecification = nameof(InvalidPortSpecification);
    /// <summary>A <c>&lt;parameter&gt;</c> with a bad name or value (strict: error; lenient: warning, skipped as libvirt does).</summary>
    public const string InvalidParameter = nameof(InvalidParameter);
    /// <summary>
    /// ipset/ipsetflags that libvirt's fixup drops (flags without a set, or both given on a protocol other than all):
    /// strict: error; lenient: warning, dropped as libvirt does.
    /// </summary>
    public const string IpSetDropped = nameof(IpSetDropped);
    /// <summary>A document longer than <see cref="Diagnostics.Limits.MaxDocumentBytes"/> bytes (file) or <see cref="Diagnostics.Limits.MaxDocumentChars"/> characters.</summary>
    public const string DocumentTooLarge = nameof(DocumentTooLarge);
    /// <summary>Elements nested deeper than <see cref="Diagnostics.Limits.MaxElementDepth"/> (libxml2's own limit).</summary>
    public const string NestingTooDeep = nameof(NestingTooDeep);
    /// <summary>A document file whose bytes are not valid UTF-8 (or UTF-16 after its byte order mark); the message names the byte offset.</summary>
    public const string InvalidEncoding = nameof(InvalidEncoding);
    /// <summary>A document file holding a NUL character (not allowed in XML).</summary>
    public const string NulCharacter = nameof(NulCharacter);
    /// <summary>A document path that is not a regular file (a FIFO, a device, a directory, a socket).</summary>
    public const string NotARegularFile = nameof(NotARegularFile);
}
