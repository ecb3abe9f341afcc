using System.Collections;
using System.Management.Automation;
using System.Text.Json;
using System.Text.Json.Nodes;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Model;

namespace NwFilter.Commands;

/// <summary>
/// How the state cmdlets take a state (docs/design/state.md): a file or a JSON text, an NwFilterState object, or any
/// PowerShell object of the same shape (a hashtable, a PSCustomObject, or a state deserialized by remoting, whose
/// methods are gone): everything but a live NwFilterState is turned into the JSON form and read by the core's
/// reader, so one set of rules (and of JSON-path errors) applies to every form.
/// </summary>
internal static class NwFilterStateInput
{
    private const int MaxDepth = 12;

    // What Invoke-Command adds to every object it brings back: not part of the state.
    private static readonly HashSet<string> RemotingNotes = new(StringComparer.OrdinalIgnoreCase) { "PSComputerName", "RunspaceId", "PSShowComputerName" };

    /// <summary>A state from an object; null after one error record per problem (each naming its JSON path).</summary>
    public static NwFilterState? Read(NwFilterCmdlet cmdlet, object? input, Func<string, bool>? filterExists)
    {
        var value = input is PSObject p ? p.BaseObject : input;
        if (value is NwFilterState state)
        {
            return state;
        }
        string json;
        if (value is string text)
        {
            json = text;
        }
        else
        {
            try
            {
                json = ToNode(input, 0)?.ToJsonString() ?? "null";
            }
            catch (InvalidOperationException e)
            {
                cmdlet.WriteError(new ErrorRecord(e, StateCodes.WrongType, ErrorCategory.InvalidData, input));
                return null;
            }
        }
        return ReadJson(cmdlet, json, filterExists, input);
    }

    /// <summary>A state from JSON text; null after one error record per problem.</summary>
    public static NwFilterState? ReadJson(NwFilterCmdlet cmdlet, string json, Func<string, bool>? filterExists, object? target)
    {
        try
        {
            return StateJson.Read(json, filterExists);
        }
        catch (NwFilterException e)
        {
            WriteErrors(cmdlet, e, target);
            return null;
        }
    }

    /// <summary>One error record per error diagnostic, the JSON path as its target.</summary>
    public static void WriteErrors(NwFilterCmdlet cmdlet, NwFilterException e, object? target)
    {
        foreach (var d in e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
        {
            var one = new NwFilterException(d);
            cmdlet.WriteError(new ErrorRecord(one, d.Code, ErrorRecords.Map(d.Category), d.Source ?? d.Filter ?? target)
            {
                ErrorDetails = new ErrorDetails(d.ToString()),
            });
        }
    }

    /// <summary>A PowerShell value as JSON: dictionaries and property bags as objects, lists as arrays.</summary>
    internal static JsonNode? ToNode(object? input, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException($"The state object nests deeper than {MaxDepth} levels.");
        }
        var pso = input as PSObject;
        var value = pso?.BaseObject ?? input;
        switch (value)
        {
            case null:
                return null;
            case string s:
                return JsonValue.Create(s);
            case bool b:
                return JsonValue.Create(b);
            case Enum e:
                return JsonValue.Create(e.ToString());
            case Guid g:
                return JsonValue.Create(g.ToString("D"));
            case sbyte or byte or short or ushort or int or uint or long or ulong:
                // A deserialized enum keeps its type name and prints its name.
                return pso is not null && IsDeserializedEnum(pso) ? JsonValue.Create(pso.ToString()) : JsonValue.Create(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
            case float or double or decimal:
                return JsonValue.Create(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
            case ParameterSet parameters:
                var ps = new JsonObject();
                foreach (var (name, values) in parameters)
                {
                    ps[name] = new JsonArray([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
                }
                return ps;
            case IDictionary dictionary:
                var o = new JsonObject();
                foreach (DictionaryEntry entry in dictionary)
                {
                    o[Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? ""] = ToNode(entry.Value, depth + 1);
                }
                return o;
            case IEnumerable list:
                var items = list.Cast<object?>().ToList();
                // A deserialized ParameterSet (an enumeration of key/value pairs) comes back as a list of pairs.
                if (items.Count > 0 && items.All(IsPair))
                {
                    var pairs = new JsonObject();
                    foreach (var item in items)
                    {
                        var pair = PSObject.AsPSObject(item!);
                        pairs[Convert.ToString(pair.Properties["Key"].Value, System.Globalization.CultureInfo.InvariantCulture) ?? ""] = ToNode(pair.Properties["Value"].Value, depth + 1);
                    }
                    return pairs;
                }
                return new JsonArray([.. items.Select(i => ToNode(i, depth + 1))]);
            default:
                // A PSCustomObject, a deserialized object or any other object: its properties.
                var bag = new JsonObject();
                foreach (var property in PSObject.AsPSObject(input!).Properties)
                {
                    if (property.IsGettable && property.MemberType is PSMemberTypes.NoteProperty or PSMemberTypes.Property or PSMemberTypes.AliasProperty
                        && !(property.MemberType == PSMemberTypes.NoteProperty && RemotingNotes.Contains(property.Name)))
                    {
                        object? v;
                        try
                        {
                            v = property.Value;
                        }
                        catch (GetValueException)
                        {
                            continue;
                        }
                        bag[property.Name] = ToNode(v, depth + 1);
                    }
                }
                return bag;
        }
    }

    private static bool IsDeserializedEnum(PSObject pso) =>
        pso.TypeNames.Count > 0 && pso.TypeNames[0].StartsWith("Deserialized.", StringComparison.Ordinal) && !pso.TypeNames[0].StartsWith("Deserialized.System.", StringComparison.Ordinal);

    private static bool IsPair(object? item)
    {
        if (item is null)
        {
            return false;
        }
        var p = PSObject.AsPSObject(item);
        if (p.BaseObject is System.Collections.Generic.KeyValuePair<string, System.Collections.Immutable.ImmutableArray<string>>)
        {
            return true;
        }
        return p.TypeNames.Any(t => t.Contains("KeyValuePair", StringComparison.Ordinal)) && p.Properties["Key"] is not null && p.Properties["Value"] is not null;
    }
}
