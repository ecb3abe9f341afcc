using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Schema;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>The value parsing the tests use: the schema's parser, as in the product.</summary>
public static class TestValues
{
    public static ResolveOptions Options { get; } = ResolveOptions.Default;

    public static TypedValue Parse(AttributeSpec spec, string text) => ValueParser.Parse(spec, text);
}
