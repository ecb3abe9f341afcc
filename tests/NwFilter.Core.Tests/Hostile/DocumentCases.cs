using System.Text;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;
using static NwFilter.Core.Xml.XmlDiagnosticCodes;

namespace NwFilter.Core.Tests.Hostile;

/// <summary>Hostile documents: malformed and truncated XML, bad bytes, DTD tricks, deep nesting, sizes, devices and FIFOs.</summary>
internal static class DocumentCases
{
    /// <summary>A well-formed filter, cut at many places below.</summary>
    private const string Whole = """
        <filter name='whole' chain='ipv4' priority='-700'>
          <uuid>5c6d9a4e-7b1f-4e8a-9d3c-2b1a0f9e8d7c</uuid>
          <rule action='accept' direction='out' priority='100'>
            <tcp srcipaddr='10.0.0.1' dstportstart='22' comment='ssh &amp; more'/>
          </rule>
          <filterref filter='base'><parameter name='IP' value='10.0.0.2'/></filterref>
        </filter>
        """;

    public static IEnumerable<HostileCase> All()
    {
        // Truncated: every prefix that ends inside the root element (41 cuts spread over the document).
        var end = Whole.LastIndexOf('>');
        for (var i = 0; i <= 40; i++)
        {
            var cut = (int)((long)end * i / 40);
            var text = Whole[..cut];
            yield return new($"truncated-at-{cut}", MalformedXml, s => () => s.DefineXml(text));
        }

        // Malformed in the many ways a hand-written or hostile file can be.
        string[] malformed =
        [
            "<filter name=whole/>",
            "<filter name='a' name='b'/>",
            "<filter name='a'><rule></filter>",
            "<filter name='a'></Filter>",
            "<filter name='<'/>",
            "<filter name='a & b'/>",
            "<filter name='&undefined;'/>",
            "<filter name='&#0;'/>",
            "<filter name='&#xD800;'/>",
            "<filter name='a'/><filter name='b'/>",
            "<filter name='a'/>trailing",
            "<filter name='a'><!-- a -- b --></filter>",
            "<filter name='a'><![CDATA[ unterminated </filter>",
            "<filter name='a' <rule/>",
            "<1filter name='a'/>",
            "<filter name='a'><rule action='accept' direction='in'><tcp dstportstart='22'></rule></filter>",
            " <?xml version='1.0'?><filter name='a'/>",
            "<?xml version='1.0' encoding='bogus-encoding'?><filter name='a'",
            "<filter xmlns:x='urn:x' name='a'><x:y:z/></filter>",
            "<filter name='a'>\u0001</filter>",
            "<filter name='a'>\uFFFE</filter>",
            "",
            "   ",
            "not xml at all",
        ];
        for (var i = 0; i < malformed.Length; i++)
        {
            var text = malformed[i];
            yield return new($"malformed-{i:D2}", MalformedXml, s => () => s.DefineXml(text));
        }
        // A NUL in a string (not a file): the XML reader refuses it.
        yield return new("nul-in-text", MalformedXml, s => () => s.DefineXml("<filter name='a\0b'/>"));

        // DTD and entity tricks: refused before anything is expanded or fetched.
        string[] dtds =
        [
            "<!DOCTYPE filter [<!ENTITY x 'y'>]><filter name='&x;'/>",
            "<!DOCTYPE filter SYSTEM 'file:///etc/passwd'><filter name='a'/>",
            "<!DOCTYPE filter [<!ENTITY x SYSTEM 'file:///etc/shadow'>]><filter name='&x;'/>",
            "<!DOCTYPE filter [<!ENTITY % p SYSTEM 'http://127.0.0.1:9/x'> %p;]><filter name='a'/>",
            "<!DOCTYPE filter [" + string.Concat(Enumerable.Range(1, 9).Select(i => $"<!ENTITY l{i} '&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};'>")) + "<!ENTITY l0 'lol'>]><filter name='&l9;'/>",
            "<!DOCTYPE filter PUBLIC '-//x//y' 'http://127.0.0.1:9/dtd'><filter name='a'/>",
            "<?xml version='1.0'?>\n<!DOCTYPE filter [<!ATTLIST filter chain CDATA 'root'>]>\n<filter name='a'/>",
            "<!DOCTYPE filterbinding [<!ENTITY e 'vnet0'>]><filterbinding/>",
        ];
        for (var i = 0; i < dtds.Length; i++)
        {
            var text = dtds[i];
            yield return new($"dtd-{i}", DtdProhibited, s => () => s.DefineXml(text));
        }
        yield return new("dtd-binding", DtdProhibited, s => () => s.CompileBindingXml("<!DOCTYPE x [<!ENTITY e 'vnet0'>]>" + HostileStore.BindingXml()));
        // XInclude is not processed: the namespace declaration is an unknown attribute, the include an unknown element.
        yield return new("xinclude-is-not-processed", UnknownAttribute, s => () =>
            s.DefineXml("<filter name='a' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='/etc/passwd' parse='text'/></filter>"))
        {
            Check = e => Assert.Contains(((NwFilterException)e).Diagnostics, d => d.Code == UnknownElement && d.Element == "xi:include"),
        };

        // Deep nesting: refused at the limit, before the tree (or the stack) grows; closed or not.
        foreach (var (depth, closed) in new[] { (100_000, false), (100_000, true), (Limits.MaxElementDepth + 1, true), (10_000, false) })
        {
            yield return new($"nested-filter-{depth}-{(closed ? "closed" : "unclosed")}", NestingTooDeep, s =>
            {
                var text = Nested("<filter name='deep'><rule action='accept' direction='in'>", "</rule></filter>", depth - 2, closed);
                return () => s.DefineXml(text);
            });
        }
        foreach (var closed in new[] { false, true })
        {
            yield return new($"nested-binding-100000-{(closed ? "closed" : "unclosed")}", NestingTooDeep, s =>
            {
                var text = Nested("<filterbinding><filterref filter='base'>", "</filterref></filterbinding>", 100_000, closed);
                return () => s.CompileBindingXml(text);
            });
            yield return new($"nested-file-100000-{(closed ? "closed" : "unclosed")}", NestingTooDeep, s =>
                s.DefineFile("nested-" + closed, Encoding.UTF8.GetBytes(Nested("<filter name='deep'>", "</filter>", 100_000, closed))));
        }

        // Sizes: multi-megabyte attributes are refused by their own rule; a document over the limit by its size.
        var mega = new string('9', 4 * 1024 * 1024);
        var megaA = new string('a', 4 * 1024 * 1024);
        (string Name, string Code, string Xml)[] big =
        [
            ("name", StoreCodes.InvalidFilterName, $"<filter name='{megaA}'/>"),
            ("chain", ChainNameTooLong, $"<filter name='a' chain='{megaA}'/>"),
            ("priority", InvalidPriority, $"<filter name='a' chain='ipv4' priority='{mega}'/>"),
            ("rule-priority", InvalidPriority, $"<filter name='a'><rule action='accept' direction='in' priority='{mega}'/></filter>"),
            ("uuid", InvalidUuid, $"<filter name='a'><uuid>{megaA}</uuid></filter>"),
            ("srcipaddr", InvalidAttributeValue, $"<filter name='a'><rule action='accept' direction='in'><ip srcipaddr='{mega}'/></rule></filter>"),
            ("dstportstart", InvalidAttributeValue, $"<filter name='a'><rule action='accept' direction='in'><tcp dstportstart='{mega}'/></rule></filter>"),
            ("unknown-attribute", UnknownAttribute, $"<filter name='a'><rule action='accept' direction='in'><tcp x='{megaA}'/></rule></filter>"),
            ("action", InvalidAttributeValue, $"<filter name='a'><rule action='{megaA}' direction='in'/></filter>"),
            ("filterref-parameter", InvalidParameter, $"<filter name='a'><filterref filter='base'><parameter name='IP' value='{megaA}!'/></filterref></filter>"),
            ("text", UnexpectedText, $"<filter name='a'>{megaA}</filter>"),
        ];
        foreach (var (name, code, xml) in big)
        {
            yield return new($"4mib-{name}", code, s => () => s.DefineXml(xml), HostileCase.Large);
        }
        yield return new("4mib-binding-portdev", NwFilter.Core.Schema.InterfaceNames.InvalidPortDeviceCode,
            s => () => s.CompileBindingXml(HostileStore.BindingXml(portdev: megaA)), HostileCase.Large);
        yield return new("text-over-limit", DocumentTooLarge, s =>
        {
            var text = "<filter name='a'>" + new string(' ', Limits.MaxDocumentChars) + "</filter>";
            return () => s.DefineXml(text);
        });
        yield return new("file-over-limit", DocumentTooLarge, s =>
            s.DefineFile("huge", Encoding.UTF8.GetBytes("<filter name='a'>" + new string(' ', Limits.MaxDocumentBytes) + "</filter>")));

        // Not regular files: refused at once, never read (a FIFO would block, /dev/zero would exhaust memory).
        foreach (var device in new[] { "/dev/zero", "/dev/urandom", "/dev/null", "/dev/full" })
        {
            yield return new($"device-{device[5..]}", NotARegularFile, _ => () => NwFilterXmlReader.ReadFilterFile(device));
            yield return new($"device-{device[5..]}-binding", NotARegularFile, _ => () => NwFilterXmlReader.ReadBindingFile(device));
        }
        yield return new("fifo-filter", NotARegularFile, s =>
        {
            var fifo = s.MakeFifo("fifo-filter.xml");
            return () => s.Store.Define(NwFilterXmlReader.ReadFilterFile(fifo).Value);
        });
        yield return new("fifo-document", NotARegularFile, s =>
        {
            var fifo = s.MakeFifo("fifo-document.xml");
            return () => NwFilterXmlReader.ReadDocumentFile(fifo);
        });
        yield return new("fifo-libvirt-import", NotARegularFile, s =>
        {
            var fifo = s.MakeFifo("fifo-import.xml");
            return () => LibvirtFilterFiles.ReadFile(fifo);
        });
        yield return new("fifo-directory-source", NotARegularFile, s =>
        {
            s.MakeFifo("fifo-source.xml");
            var source = new DirectoryFilterSource(s.Scratch.Path);
            return () => source.Find("fifo-source");
        });
        yield return new("directory-as-file", NotARegularFile, s => () => NwFilterXmlReader.ReadFilterFile(s.Scratch.Path));

        foreach (var c in EncodingCases())
        {
            yield return c;
        }
    }

    private static string Nested(string open, string close, int depth, bool closed)
    {
        var b = new StringBuilder(open.Length + close.Length + depth * 8);
        b.Append(open);
        b.Insert(b.Length, "<x>", depth);
        if (closed)
        {
            b.Insert(b.Length, "</x>", depth);
            b.Append(close);
        }
        return b.ToString();
    }

    /// <summary>Invalid UTF-8 (and UTF-16) at several places of a file, and NUL: refused with the byte offset named.</summary>
    private static IEnumerable<HostileCase> EncodingCases()
    {
        (string Name, byte[] Bytes)[] sequences =
        [
            ("lone-continuation", [0x80]),
            ("overlong-slash", [0xC0, 0xAF]),
            ("overlong-3", [0xE0, 0x80, 0xAF]),
            ("overlong-4", [0xF0, 0x80, 0x80, 0xAF]),
            ("surrogate", [0xED, 0xA0, 0x80]),
            ("above-10ffff", [0xF4, 0x90, 0x80, 0x80]),
            ("five-byte", [0xF8, 0x88, 0x80, 0x80, 0x80]),
            ("ff", [0xFF]),
            ("fe", [0xFE]),
            ("truncated-2", [0xC3]),
            ("truncated-3", [0xE2, 0x82]),
            ("latin1-e-acute", [0xE9]),
        ];
        (string Where, string Before, string After)[] places =
        [
            ("name", "<filter name='ab", "cd'/>"),
            ("comment", "<filter name='a'><rule action='accept' direction='in'><tcp comment='x", "y'/></rule></filter>"),
            ("element", "<filter name='a'><r", "ule action='accept' direction='in'/></filter>"),
        ];
        foreach (var (name, bytes) in sequences)
        {
            foreach (var (where, before, after) in places)
            {
                var prefix = Encoding.UTF8.GetBytes(before);
                var file = prefix.Concat(bytes).Concat(Encoding.UTF8.GetBytes(after)).ToArray();
                var offset = prefix.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                yield return new($"utf8-{name}-in-{where}", InvalidEncoding, s => s.DefineFile($"utf8-{name}-{where}", file))
                {
                    Check = e => Assert.Equal(offset, ErrorIds.Primary(e)!.Value),
                };
            }
        }
        // After a UTF-8 byte order mark, and on line 3: the offset counts the BOM, the line is named.
        const string bomPrefix = "<filter\n name='a'\n x='";
        var withBom = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(bomPrefix)).Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes("'/>")).ToArray();
        var bomOffset = (3 + Encoding.UTF8.GetByteCount(bomPrefix)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return new("utf8-after-bom-line-3", InvalidEncoding, s => s.DefineFile("bom", withBom))
        {
            Check = e => Assert.Equal((3, bomOffset), (ErrorIds.Primary(e)!.Line!.Value, ErrorIds.Primary(e)!.Value)),
        };
        // Two names that differ only in an invalid byte: neither becomes a filter (no U+FFFD merges them).
        yield return new("utf8-two-names-one-fffd-a", InvalidEncoding, s => s.DefineFile("fffd-a", [.. "<filter name='x"u8, 0xFE, .. "'/>"u8]));
        yield return new("utf8-two-names-one-fffd-b", InvalidEncoding, s => s.DefineFile("fffd-b", [.. "<filter name='x"u8, 0xFF, .. "'/>"u8]));
        // UTF-16 after its byte order mark: an unpaired surrogate.
        yield return new("utf16le-unpaired-surrogate", InvalidEncoding, s =>
            s.DefineFile("utf16le", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("<filter name='"), 0x00, 0xD8, .. Encoding.Unicode.GetBytes("'/>")]));
        yield return new("utf16be-unpaired-surrogate", InvalidEncoding, s =>
            s.DefineFile("utf16be", [0xFE, 0xFF, .. Encoding.BigEndianUnicode.GetBytes("<filter name='"), 0xDC, 0x00, .. Encoding.BigEndianUnicode.GetBytes("'/>")]));
        // NUL: anywhere in the file, named by its offset.
        string[] nulPlaces = ["<filter name='a", "<filter ", "<filter name='a'>", "<filter name='a'><rule action='accept", "<"];
        for (var i = 0; i < nulPlaces.Length; i++)
        {
            var prefix = Encoding.UTF8.GetBytes(nulPlaces[i]);
            var file = prefix.Append((byte)0).Concat("'/>"u8.ToArray()).ToArray();
            var offset = prefix.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var n = i;
            yield return new($"nul-in-file-{n}", NulCharacter, s => s.DefineFile($"nul-{n}", file))
            {
                Check = e => Assert.Equal(offset, ErrorIds.Primary(e)!.Value),
            };
        }
        yield return new("nul-in-utf16-file", NulCharacter, s =>
            s.DefineFile("nul16", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("<filter name='a\0'/>")]));
    }
}
