using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;

namespace NwFilter.Core.Xml;

/// <summary>What a successful read returns: the value and the warnings (lenient mode's ignored content).</summary>
internal sealed record ReadResult<T>(T Value, ImmutableArray<Diagnostic> Warnings);
