using System.Text;
using NwFilter.Core.Backends;
using NwFilter.Core.Model;
using NwFilter.Core.Schema;
using NwFilter.Core.Store;

namespace NwFilter.Core.Tests.Hostile;

/// <summary>Hostile names: filter names that escape, hide or look alike; port device names the kernel refuses.</summary>
internal static class NameCases
{
    private static readonly (string Label, string Name)[] FilterNames =
    [
        ("empty", ""),
        ("dot", "."),
        ("dotdot", ".."),
        ("traversal", "../x"),
        ("deep-traversal", "../../../../etc/passwd"),
        ("absolute", "/etc/passwd"),
        ("inner-traversal", "a/../../b"),
        ("slash", "a/b"),
        ("trailing-slash", "a/"),
        ("backslash", "a\\b"),
        ("windows-traversal", "..\\..\\x"),
        ("hidden", ".hidden"),
        ("nul", "a\0b"),
        ("tab", "a\tb"),
        ("newline", "a\nb"),
        ("carriage-return", "a\rb"),
        ("escape", "a\u001b[31mred"),
        ("del", "a\u007fb"),
        ("c1", "a\u0085b"),
        ("bell", "\u0007"),
        ("wildcard-star", "x*"),
        ("wildcard-question", "x?"),
        ("wildcard-bracket", "x[1]"),
        ("over-long-201", new string('a', 201)),
        ("over-long-utf8", new string('é', 101)),
        ("over-long-emoji", string.Concat(Enumerable.Repeat("😀", 51))),
        ("over-long-1mib", new string('n', 1024 * 1024)),
        ("zero-width-space", "clean\u200Btraffic"),
        ("zero-width-joiner", "clean\u200Dtraffic"),
        ("word-joiner", "clean\u2060traffic"),
        ("soft-hyphen", "clean\u00ADtraffic"),
        ("right-to-left-override", "\u202Eciffart-naelc"),
        ("left-to-right-mark", "clean-traffic\u200E"),
        ("arabic-letter-mark", "a\u061Cb"),
        ("bom", "\uFEFFclean-traffic"),
        ("replacement-character", "clean\uFFFDtraffic"),
        ("noncharacter", "a\uFFFEb"),
        ("unpaired-high-surrogate", "a\uD800b"),
        ("unpaired-low-surrogate", "a\uDC00b"),
        ("decomposed", "cafe\u0301"),
        ("decomposed-hangul", "\u1100\u1161"),
        ("tag-characters", "a\U000E0041b"),
    ];

    private static readonly (string Label, string Name)[] PortDevices =
    [
        ("empty", ""),
        ("dot", "."),
        ("dotdot", ".."),
        ("slash", "a/b"),
        ("colon", "vnet0:1"),
        ("space", "vnet 0"),
        ("tab", "vnet\t0"),
        ("newline", "vnet\n0"),
        ("carriage-return", "vnet\r0"),
        ("vertical-tab", "vnet\v0"),
        ("form-feed", "vnet\f0"),
        ("sixteen-bytes", "abcdefghijklmnop"),
        ("sixteen-utf8-bytes", "éééééééé"),
        ("nul", "vnet0\0"),
        ("leading-dash", "-vnet0"),
        ("option-like", "--jump"),
        ("quote", "vnet'0"),
        ("double-quote", "vnet\"0"),
        ("control", "vnet\u00010"),
        ("del", "vnet\u007f"),
        ("no-break-space", "\u00A0vnet"),
        ("line-separator", "vnet\u2028"),
    ];

    public static IEnumerable<HostileCase> All()
    {
        foreach (var (label, name) in FilterNames)
        {
            // Built in code (every name), and written in a document where XML can hold it.
            yield return new($"filter-name-{label}", StoreCodes.InvalidFilterName,
                s => () => s.Store.Define(new FilterDefinition(name)), HostileCase.Large);
            if (name.Length > 0 && ToXmlAttribute(name) is { } attribute)
            {
                yield return new($"filter-name-{label}-xml", StoreCodes.InvalidFilterName,
                    s => () => s.DefineXml($"<filter name='{attribute}'/>"), HostileCase.Large);
            }
        }
        foreach (var (label, name) in PortDevices)
        {
            foreach (var backend in Enum.GetValues<FirewallBackendKind>())
            {
                yield return new($"portdev-{label}-compile-{backend}", InterfaceNames.InvalidPortDeviceCode,
                    s => () => s.Compile(Base(s), Build.ParamsIp, backend, port: name));
            }
            if (name.Length > 0 && ToXmlAttribute(name) is { } attribute)
            {
                yield return new($"portdev-{label}-binding-xml", InterfaceNames.InvalidPortDeviceCode,
                    s => () => s.CompileBindingXml(HostileStore.BindingXml(portdev: attribute)));
            }
        }
    }

    private static FilterDefinition Base(HostileStore s) => s.Store.Get("base")!.Definition;

    /// <summary>The name as an XML attribute value (characters escaped so that they survive), or null when XML cannot hold it.</summary>
    internal static string? ToXmlAttribute(string text)
    {
        var b = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsSurrogatePair(text, i))
            {
                b.Append(c).Append(text[++i]);
            }
            else if (char.IsSurrogate(c) || c is '\uFFFE' or '\uFFFF' || (c < 0x20 && c is not ('\t' or '\n' or '\r')))
            {
                return null;
            }
            else if (c < 0x20 || c is '&' or '<' or '\'' or '"' || (c >= 0x7F && c <= 0x9F))
            {
                b.Append("&#x").Append(((int)c).ToString("X", System.Globalization.CultureInfo.InvariantCulture)).Append(';');
            }
            else
            {
                b.Append(c);
            }
        }
        return b.ToString();
    }

    private static class Build
    {
        public static readonly ParameterSet ParamsIp = TestSupport.Build.Params(("IP", "10.0.0.1"), ("PORT", "22"), ("C", "ok"), ("DST", "10.0.0.2"));
    }
}
