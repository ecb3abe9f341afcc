using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Xml;

namespace NwFilter.Core.DesiredState;

/// <summary>The error ids of a state document that cannot be used (each diagnostic's Source is the JSON path).</summary>
public static class StateCodes
{
    /// <summary>The text is not JSON.</summary>
    public const string InvalidJson = "StateInvalidJson";
    /// <summary>A key the state document does not define (a typo, or a newer document).</summary>
    public const string UnknownKey = "StateUnknownKey";
    /// <summary>The same key twice in one object.</summary>
    public const string DuplicateKey = "StateDuplicateKey";
    /// <summary>A key the item needs is absent.</summary>
    public const string MissingKey = "StateMissingKey";
    /// <summary>A value of the wrong JSON type (a string where an object belongs, ...).</summary>
    public const string WrongType = "StateWrongType";
    /// <summary>A value of the right type that is not valid (a bad MAC, an unknown backend, ...).</summary>
    public const string InvalidValue = "StateInvalidValue";
    /// <summary>A filter's XML does not parse or is not a valid filter.</summary>
    public const string FilterInvalid = "StateFilterInvalid";
    /// <summary>A filter's XML names another filter than its entry.</summary>
    public const string FilterNameMismatch = "StateFilterNameMismatch";
    /// <summary>A filter's given hash is not the hash of its XML.</summary>
    public const string HashMismatch = "StateHashMismatch";
    /// <summary>The same filter or port device twice in the document.</summary>
    public const string Duplicate = "StateDuplicateItem";
    /// <summary>A binding or reference names a filter neither the document nor the host has.</summary>
    public const string FilterNotFound = "StateFilterNotFound";
    /// <summary>A filter given by hash only whose content the host does not have.</summary>
    public const string FilterContentUnknown = "StateFilterContentUnknown";
}

/// <summary>
/// The JSON form of a state (docs/design/state.md), read and written with System.Text.Json. Keys match without regard
/// to case (a PowerShell object's Filters reads as filters); a key the format does not know, a value of the wrong type,
/// a filter whose XML does not read, a binding whose filter is neither in the document nor on the host: each is an
/// error naming its JSON path, all are reported at once, and the document is refused whole.
/// </summary>
public static class StateJson
{
    /// <summary>The <c>defaultBackend</c> that means the host's default.</summary>
    private const string Auto = "auto";

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 16, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>
    /// Reads a state document. <paramref name="filterExists"/> tells whether the host has a filter (stored or
    /// built-in) a binding may use without the document defining it; null: only the document's filters count.
    /// </summary>
    /// <exception cref="NwFilterException">The document cannot be used; every diagnostic names its JSON path.</exception>
    public static NwFilterState Read(string json, Func<string, bool>? filterExists = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            var at = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            throw new NwFilterException(Error(InvalidJsonPath(e), StateCodes.InvalidJson, $"The state document is not valid JSON{at}: {e.Message}"));
        }
        using (document)
        {
            var reader = new Reader();
            var state = reader.ReadState(document.RootElement, filterExists);
            if (reader.Errors.Count > 0)
            {
                throw new NwFilterException(reader.Errors);
            }
            return state;
        }
    }

    private static string InvalidJsonPath(JsonException e) => string.IsNullOrEmpty(e.Path) ? "$" : e.Path;

    /// <summary>The state as an indented JSON document: what Export-NwFilterState writes and <see cref="Read"/> reads back.</summary>
    public static string Write(NwFilterState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("filters");
            foreach (var f in state.Filters)
            {
                w.WriteStartObject();
                w.WriteString("name", f.Name);
                w.WriteString("hash", f.Hash);
                if (f.Origin is { } origin)
                {
                    w.WriteString("origin", origin);
                }
                w.WriteStartArray("references");
                foreach (var r in f.References)
                {
                    w.WriteStringValue(r);
                }
                w.WriteEndArray();
                if (f.Xml is { } xml)
                {
                    w.WriteString("xml", xml);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("bindings");
            foreach (var b in state.Bindings)
            {
                w.WriteStartObject();
                w.WriteString("portDevice", b.PortDevice);
                w.WriteString("macAddress", b.MacAddress);
                w.WriteString("filter", b.Filter);
                w.WriteStartObject("parameters");
                foreach (var (name, values) in b.Parameters)
                {
                    if (values.Length == 1)
                    {
                        w.WriteString(name, values[0]);
                    }
                    else
                    {
                        w.WriteStartArray(name);
                        foreach (var v in values)
                        {
                            w.WriteStringValue(v);
                        }
                        w.WriteEndArray();
                    }
                }
                w.WriteEndObject();
                w.WriteString("owner", b.Owner);
                w.WriteString("ownerUuid", b.OwnerUuid.ToString("D"));
                if (b.LinkDevice is { } link)
                {
                    w.WriteString("linkDevice", link);
                }
                if (b.Binding?.BackendUnset == true)
                {
                    w.WriteNull("backend"); // the host's default
                }
                else
                {
                    w.WriteString("backend", b.Backend.ToString());
                }
                if (b.Counters is { } counters)
                {
                    w.WriteBoolean("counters", counters); // written only when the binding sets them (null: the host's default)
                }
                w.WriteString("hash", b.Hash);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("settings");
            if (state.Settings.NetworkNamespace is { } ns)
            {
                w.WriteString("networkNamespace", ns);
            }
            else
            {
                w.WriteNull("networkNamespace");
            }
            w.WriteString("defaultBackend", state.Settings.DefaultBackend?.ToString() ?? Auto);
            w.WriteBoolean("pruneBindings", state.Settings.PruneBindings);
            w.WriteEndObject();
            w.WriteString("stateHash", state.StateHash);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    private static Diagnostic Error(string path, string code, string message, DiagnosticCategory category = DiagnosticCategory.InvalidData) =>
        Diagnostic.Error(code, message, category) with { Source = path };

    private sealed class Reader
    {
        public List<Diagnostic> Errors { get; } = [];

        private void Fail(string path, string code, string message) => Errors.Add(Error(path, code, message));

        public NwFilterState ReadState(JsonElement root, Func<string, bool>? filterExists)
        {
            var keys = Keys(root, "$", "the state document", ["$schema", "filters", "bindings", "settings", "stateHash"]);
            if (keys is null)
            {
                return new NwFilterState();
            }
            var settings = keys.TryGetValue("settings", out var s) && s.Value.ValueKind != JsonValueKind.Null ? ReadSettings(s.Value, s.Path) : StateSettings.Default;
            var filters = new List<FilterState>();
            if (keys.TryGetValue("filters", out var fs) && Array(fs.Value, fs.Path) is { } filterItems)
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < filterItems.Count; i++)
                {
                    var path = $"{fs.Path}[{i}]";
                    if (ReadFilter(filterItems[i], path) is { } filter)
                    {
                        if (!names.Add(filter.Name))
                        {
                            Fail(path + ".name", StateCodes.Duplicate, $"The filter '{filter.Name}' is listed twice.");
                        }
                        filters.Add(filter);
                    }
                }
            }
            var documentFilters = filters.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            var bindings = new List<BindingState>();
            if (keys.TryGetValue("bindings", out var bs) && Array(bs.Value, bs.Path) is { } bindingItems)
            {
                var ports = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < bindingItems.Count; i++)
                {
                    var path = $"{bs.Path}[{i}]";
                    if (ReadBinding(bindingItems[i], path, settings) is { } binding)
                    {
                        if (!ports.Add(binding.PortDevice))
                        {
                            Fail(path + ".portDevice", StateCodes.Duplicate, $"The port device '{binding.PortDevice}' is bound twice.");
                        }
                        if (!documentFilters.Contains(binding.Filter) && !(filterExists?.Invoke(binding.Filter) ?? false))
                        {
                            Fail(path + ".filter", StateCodes.FilterNotFound, $"The binding of '{binding.PortDevice}' uses the filter '{binding.Filter}', which neither the document nor the host defines.");
                        }
                        bindings.Add(binding);
                    }
                }
            }
            if (keys.TryGetValue("stateHash", out var h))
            {
                String(h.Value, h.Path);
            }
            if (keys.TryGetValue("$schema", out var schema))
            {
                String(schema.Value, schema.Path);
            }
            return new NwFilterState
            {
                Filters = [.. filters.OrderBy(f => f.Name, StringComparer.Ordinal)],
                Bindings = [.. bindings.OrderBy(b => b.PortDevice, StringComparer.Ordinal)],
                Settings = settings,
            };
        }

        private StateSettings ReadSettings(JsonElement element, string path)
        {
            var keys = Keys(element, path, "the settings", ["networkNamespace", "defaultBackend", "pruneBindings"]);
            if (keys is null)
            {
                return StateSettings.Default;
            }
            var settings = StateSettings.Default;
            if (keys.TryGetValue("networkNamespace", out var ns) && ns.Value.ValueKind != JsonValueKind.Null && String(ns.Value, ns.Path) is { } name)
            {
                settings = settings with { NetworkNamespace = name.Length == 0 ? null : name };
            }
            if (keys.TryGetValue("defaultBackend", out var backend) && backend.Value.ValueKind != JsonValueKind.Null &&
                !(backend.Value.ValueKind == JsonValueKind.String && string.Equals(backend.Value.GetString(), Auto, StringComparison.OrdinalIgnoreCase)) &&
                Backend(backend.Value, backend.Path, allowAuto: true) is { } kind)
            {
                settings = settings with { DefaultBackend = kind };
            }
            if (keys.TryGetValue("pruneBindings", out var prune))
            {
                if (prune.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    settings = settings with { PruneBindings = prune.Value.GetBoolean() };
                }
                else
                {
                    WrongType(prune.Path, "a boolean", prune.Value);
                }
            }
            return settings;
        }

        private FilterState? ReadFilter(JsonElement element, string path)
        {
            var keys = Keys(element, path, "a filter", ["name", "xml", "hash", "origin", "references"]);
            if (keys is null)
            {
                return null;
            }
            var name = Required(keys, "name", path);
            string? xml = keys.TryGetValue("xml", out var x) && x.Value.ValueKind != JsonValueKind.Null ? String(x.Value, x.Path) : null;
            string? hash = keys.TryGetValue("hash", out var h) && h.Value.ValueKind != JsonValueKind.Null ? String(h.Value, h.Path) : null;
            if (keys.TryGetValue("origin", out var o) && o.Value.ValueKind != JsonValueKind.Null)
            {
                String(o.Value, o.Path);
            }
            var references = new List<string>();
            if (keys.TryGetValue("references", out var r) && r.Value.ValueKind != JsonValueKind.Null && Array(r.Value, r.Path) is { } refs)
            {
                for (var i = 0; i < refs.Count; i++)
                {
                    if (String(refs[i], $"{r.Path}[{i}]") is { } reference)
                    {
                        references.Add(reference);
                    }
                }
            }
            if (name is null)
            {
                return null;
            }
            if (hash is not null && !IsHash(hash))
            {
                Fail(h.Path, StateCodes.InvalidValue, $"'{hash}' is not a SHA-256 hash (64 hexadecimal digits).");
                hash = null;
            }
            if (xml is null)
            {
                if (hash is null)
                {
                    if (!keys.ContainsKey("hash"))
                    {
                        Fail(path, StateCodes.MissingKey, $"The filter '{name}' needs 'xml' (its content) or 'hash' (the content it must have).");
                    }
                    return null;
                }
                // A hash-only entry (a host's built-in) keeps the references it lists: a migration closure follows them.
                return new FilterState(name, hash.ToLowerInvariant(), null) { References = [.. references] };
            }
            FilterDefinition filter;
            try
            {
                filter = NwFilterXmlReader.ReadFilter(xml, XmlReadOptions.Strict with { SourceName = x.Path }).Value;
            }
            catch (NwFilterException e)
            {
                foreach (var d in e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
                {
                    Errors.Add(Error(x.Path, StateCodes.FilterInvalid, $"The XML of filter '{name}' does not read: {d}") with { Filter = name });
                }
                return null;
            }
            if (filter.Name != name)
            {
                Fail(x.Path, StateCodes.FilterNameMismatch, $"The XML defines the filter '{filter.Name}', not '{name}'.");
                return null;
            }
            var state = HostState.FromDefinition(filter);
            if (hash is not null && !string.Equals(hash, state.Hash, StringComparison.OrdinalIgnoreCase))
            {
                Fail(h.Path, StateCodes.HashMismatch, $"The hash given for filter '{name}' is {hash}, but its XML hashes to {state.Hash}.");
                return null;
            }
            return state;
        }

        private BindingState? ReadBinding(JsonElement element, string path, StateSettings settings)
        {
            var keys = Keys(element, path, "a binding", ["portDevice", "macAddress", "filter", "parameters", "owner", "ownerUuid", "linkDevice", "backend", "counters", "hash"]);
            if (keys is null)
            {
                return null;
            }
            var port = Required(keys, "portDevice", path);
            var macText = Required(keys, "macAddress", path);
            var filter = Required(keys, "filter", path);
            var mac = System.Net.NetworkInformation.PhysicalAddress.None;
            if (macText is not null && !MacAddressText.TryParse(macText, out mac))
            {
                Fail(keys["macAddress"].Path, StateCodes.InvalidValue, $"'{macText}' is not a MAC address (six hexadecimal pairs separated by colons).");
                macText = null;
            }
            var parameters = ParameterSet.Empty;
            if (keys.TryGetValue("parameters", out var p) && p.Value.ValueKind != JsonValueKind.Null)
            {
                parameters = Parameters(p.Value, p.Path);
            }
            string? owner = Optional(keys, "owner");
            string? link = Optional(keys, "linkDevice");
            var ownerUuid = Guid.Empty;
            if (Optional(keys, "ownerUuid") is { Length: > 0 } uuidText && !Guid.TryParse(uuidText, out ownerUuid))
            {
                Fail(keys["ownerUuid"].Path, StateCodes.InvalidValue, $"'{uuidText}' is not a UUID.");
            }
            FirewallBackendKind? backend = settings.DefaultBackend;
            if (keys.TryGetValue("backend", out var b) && b.Value.ValueKind != JsonValueKind.Null && Backend(b.Value, b.Path) is { } kind)
            {
                backend = kind;
            }
            bool? counters = null;
            if (keys.TryGetValue("counters", out var c) && c.Value.ValueKind != JsonValueKind.Null)
            {
                if (c.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    counters = c.Value.GetBoolean();
                }
                else
                {
                    WrongType(c.Path, "true, false or null (per-rule counters on, off, or left to the host)", c.Value);
                }
            }
            Optional(keys, "hash");
            if (port is null || macText is null || filter is null || port.Length == 0 || filter.Length == 0)
            {
                if (port is { Length: 0 })
                {
                    Fail(keys["portDevice"].Path, StateCodes.InvalidValue, "The port device is empty.");
                }
                if (filter is { Length: 0 })
                {
                    Fail(keys["filter"].Path, StateCodes.InvalidValue, "The filter name is empty.");
                }
                return null;
            }
            return HostState.FromBinding(Bindings.Create(port, mac, filter, parameters, owner, ownerUuid, link, backend, counters));
        }

        private ParameterSet Parameters(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                WrongType(path, "an object of parameter names and values", element);
                return ParameterSet.Empty;
            }
            var pairs = new List<KeyValuePair<string, string>>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var at = $"{path}.{property.Name}";
                if (!seen.Add(property.Name))
                {
                    Fail(at, StateCodes.DuplicateKey, $"The parameter '{property.Name}' is given twice.");
                    continue;
                }
                if (property.Value.ValueKind == JsonValueKind.Array)
                {
                    var i = 0;
                    foreach (var item in property.Value.EnumerateArray())
                    {
                        if (Scalar(item, $"{at}[{i++}]") is { } v)
                        {
                            pairs.Add(new(property.Name, v));
                        }
                    }
                }
                else if (Scalar(property.Value, at) is { } v)
                {
                    pairs.Add(new(property.Name, v));
                }
            }
            return ParameterSet.FromPairs(pairs);
        }

        /// <summary>A parameter value: a string, or a number written as its JSON text.</summary>
        private string? Scalar(JsonElement element, string path)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.String:
                    return element.GetString();
                case JsonValueKind.Number:
                    return element.GetRawText();
                default:
                    WrongType(path, "a string (or a list of strings)", element);
                    return null;
            }
        }

        private FirewallBackendKind? Backend(JsonElement element, string path, bool allowAuto = false)
        {
            if (String(element, path) is not { } text)
            {
                return null;
            }
            if (Enum.TryParse<FirewallBackendKind>(text, ignoreCase: true, out var kind) && Enum.IsDefined(kind) && !char.IsDigit(text.TrimStart()[0]))
            {
                return kind;
            }
            Fail(path, StateCodes.InvalidValue, $"'{text}' is not a backend; use {(allowAuto ? Auto + ", " : "")}{string.Join(" or ", Enum.GetNames<FirewallBackendKind>())}.");
            return null;
        }

        private string? Required(Dictionary<string, (JsonElement Value, string Path)> keys, string key, string path)
        {
            if (!keys.TryGetValue(key, out var v) || v.Value.ValueKind == JsonValueKind.Null)
            {
                Fail(path, StateCodes.MissingKey, $"The key '{key}' is required here.");
                return null;
            }
            return String(v.Value, v.Path);
        }

        private string? Optional(Dictionary<string, (JsonElement Value, string Path)> keys, string key) =>
            keys.TryGetValue(key, out var v) && v.Value.ValueKind != JsonValueKind.Null ? String(v.Value, v.Path) : null;

        private string? String(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String)
            {
                return element.GetString();
            }
            WrongType(path, "a string", element);
            return null;
        }

        private List<JsonElement>? Array(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                return [.. element.EnumerateArray()];
            }
            if (element.ValueKind == JsonValueKind.Null)
            {
                return [];
            }
            WrongType(path, "an array", element);
            return null;
        }

        private void WrongType(string path, string expected, JsonElement found) =>
            Fail(path, StateCodes.WrongType, $"Expected {expected}, found {Describe(found.ValueKind)}.");

        private static string Describe(JsonValueKind kind) => kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null",
            _ => kind.ToString(),
        };

        /// <summary>An object's keys (matched without regard to case, as PowerShell does), each with its path; null after an error.</summary>
        private Dictionary<string, (JsonElement Value, string Path)>? Keys(JsonElement element, string path, string what, string[] known)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                WrongType(path, $"an object ({what})", element);
                return null;
            }
            var keys = new Dictionary<string, (JsonElement, string)>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var at = path + "." + property.Name;
                var key = known.FirstOrDefault(k => string.Equals(k, property.Name, StringComparison.OrdinalIgnoreCase));
                if (key is null)
                {
                    Fail(at, StateCodes.UnknownKey, $"'{property.Name}' is not a key of {what}; the keys are {string.Join(", ", known)}.");
                    continue;
                }
                if (!keys.TryAdd(key, (property.Value, at)))
                {
                    Fail(at, StateCodes.DuplicateKey, $"The key '{key}' is given twice.");
                }
            }
            return keys;
        }

        private static bool IsHash(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigit);
    }
}
