using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NwFilter.Core.Apply;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Runtime.Control;

/// <summary>
/// nwfilterd's control contract (docs/design/runtime.md, "Doors"): the runtime's change requests and their responses
/// as length-prefixed JSON messages on a Unix socket, with the runtime's events, progress and confirmations streamed
/// back while a request runs. Pure: no socket here, only streams and JSON. Filters and bindings travel as their
/// canonical XML (read back strictly), errors as their diagnostics, so an error id is the same on both sides.
/// </summary>
/// <remarks>
/// A frame is a 4-byte big-endian length (of the JSON that follows, not counting itself) and UTF-8 JSON, one object
/// with a <c>type</c>. One connection carries one request: the client sends <c>hello</c> and the server answers
/// <c>hello</c> (its version and store location); the client sends <c>request</c>; the server streams <c>event</c>,
/// <c>progress</c>, <c>learner</c> and <c>confirm</c> (the client answers each confirm with <c>answer</c>, after asking
/// for its <c>plan</c> if it wants it) and ends with <c>response</c> or <c>failure</c> (the request was refused as a
/// whole: malformed, not allowed).
/// </remarks>
public static class ControlContract
{
    /// <summary>The contract's version; a server refuses a hello of another version.</summary>
    public const int Version = 1;

    /// <summary>The largest frame either side reads (a filter set of several MiB fits; a length over it closes the connection).</summary>
    public const int MaxFrame = 16 * 1024 * 1024;

    /// <summary>Where nwfilterd's control socket is unless configured (<c>--control-socket</c>, <c>NWFILTER_DAEMON_SOCKET</c>).</summary>
    public const string DefaultSocket = "/run/nwfilter/nwfilterd.sock";

    /// <summary>The environment variable naming the control socket for the module and the clients.</summary>
    public const string SocketVariable = "NWFILTER_DAEMON_SOCKET";

    /// <summary>The environment variable choosing the door: <c>auto</c> (default), <c>daemon</c> (refuse when it does not answer) or <c>inprocess</c>.</summary>
    public const string ModeVariable = "NWFILTER_DAEMON";

    /// <summary>Error id: the daemon is required (NWFILTER_DAEMON=daemon) but does not answer, or answers for another store.</summary>
    public const string DaemonUnavailable = "NwFilterDaemonUnavailable";

    /// <summary>Error id: the daemon closed the connection (or stopped answering) before the response.</summary>
    public const string DaemonLost = "NwFilterDaemonLost";

    /// <summary>Error id: a message of the contract is malformed (either side).</summary>
    public const string BadMessage = "NwFilterControlMessageInvalid";

    // ----- framing -----

    /// <summary>Writes one frame.</summary>
    public static async Task WriteAsync(Stream stream, JsonObject message, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes(message.ToJsonString());
        if (body.Length > MaxFrame)
        {
            throw new NwFilterException(Bad($"a {message["type"]} message of {body.Length} bytes is over the contract's limit of {MaxFrame}"));
        }
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one frame: its JSON object, or null at a clean end of the stream (before any byte of a frame).</summary>
    /// <exception cref="NwFilterException">A length over <paramref name="maxFrame"/>, a stream that ends mid frame, JSON that is no object with a string <c>type</c>.</exception>
    public static async Task<JsonObject?> ReadAsync(Stream stream, CancellationToken cancellationToken, int maxFrame = MaxFrame)
    {
        var head = new byte[4];
        var got = await FillAsync(stream, head, cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }
        if (got < 4)
        {
            throw new NwFilterException(Bad("the stream ended inside a frame's length"));
        }
        var length = BinaryPrimitives.ReadInt32BigEndian(head);
        if (length <= 0 || length > maxFrame)
        {
            throw new NwFilterException(Bad($"a frame length of {length} is outside 1..{maxFrame}"));
        }
        var body = new byte[length];
        if (await FillAsync(stream, body, cancellationToken).ConfigureAwait(false) < length)
        {
            throw new NwFilterException(Bad($"the stream ended inside a frame of {length} bytes"));
        }
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new NwFilterException(Bad($"a frame is no JSON: {e.Message}"));
        }
        if (node is not JsonObject o || o["type"] is not JsonValue t || t.GetValueKind() != JsonValueKind.String)
        {
            throw new NwFilterException(Bad("a frame is not a JSON object with a string 'type'"));
        }
        return o;
    }

    private static async Task<int> FillAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(got), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            got += n;
        }
        return got;
    }

    /// <summary>A diagnostic for a malformed message.</summary>
    public static Diagnostic Bad(string what) =>
        Diagnostic.Error(BadMessage, $"nwfilterd's control contract: {what}.", DiagnosticCategory.InvalidData);

    /// <summary>The type of a message.</summary>
    public static string TypeOf(JsonObject message) => (string)message["type"]!;

    /// <summary>A message of <paramref name="type"/>.</summary>
    public static JsonObject Message(string type) => new() { ["type"] = type };

    // ----- requests -----

    /// <summary>The <c>request</c> message of one of the runtime's change requests.</summary>
    public static JsonObject EncodeRequest(object request) => request switch
    {
        DefineFiltersRequest d => Request("DefineFilters", new JsonObject
        {
            ["filters"] = Array(d.Filters.Select(f => (JsonNode?)NwFilterXmlWriter.Write(f))),
            ["allOrNothing"] = d.AllOrNothing,
            ["skipUnchanged"] = d.SkipUnchanged,
            ["expected"] = d.Expected is null ? null : new JsonObject(d.Expected.Select(e =>
                KeyValuePair.Create(e.Key, (JsonNode?)(e.Value is null ? null : JsonValue.Create(NwFilterXmlWriter.Write(e.Value)))))),
        }),
        UndefineFilterRequest u => Request("UndefineFilter", new JsonObject { ["name"] = u.Name }),
        ApplyBindingsRequest a => Request("ApplyBindings", new JsonObject
        {
            ["bindings"] = Array(a.Bindings.Select(EncodeBinding)),
            ["networkNamespace"] = a.NetworkNamespace,
        }),
        RemoveBindingsRequest r => Request("RemoveBindings", new JsonObject
        {
            ["portDevices"] = Array(r.PortDevices.Select(p => (JsonNode?)p)),
            ["networkNamespace"] = r.NetworkNamespace,
        }),
        RestoreBindingsRequest r => Request("RestoreBindings", new JsonObject
        {
            ["portDevices"] = r.PortDevices is null ? null : Array(r.PortDevices.Select(p => (JsonNode?)p)),
            ["networkNamespace"] = r.NetworkNamespace,
            ["backend"] = r.Backend?.ToString(),
        }),
        StateResourceRequest s => Request("StateResource", new JsonObject
        {
            ["resource"] = s.Resource,
            ["operation"] = s.Operation,
            ["input"] = s.Input,
            ["whatIf"] = s.WhatIf,
            ["networkNamespace"] = s.NetworkNamespace,
        }),
        BindingStatusRequest { TestDrift: false } b => Request("BindingStatus", new JsonObject
        {
            ["portDevices"] = b.PortDevices is null ? null : Array(b.PortDevices.Select(p => (JsonNode?)p)),
            ["networkNamespace"] = b.NetworkNamespace,
        }),
        _ => throw new ArgumentException($"{request.GetType().Name} does not go over nwfilterd's control socket.", nameof(request)),
    };

    private static JsonObject Request(string kind, JsonObject body)
    {
        body["kind"] = kind;
        var m = Message("request");
        m["request"] = body;
        return m;
    }

    /// <summary>The runtime request of a <c>request</c> message (hostile input: every field checked).</summary>
    /// <exception cref="NwFilterException">A missing or wrong field, an unknown kind, XML that does not read strictly (its diagnostics).</exception>
    public static object DecodeRequest(JsonObject message)
    {
        var r = message["request"] as JsonObject ?? throw new NwFilterException(Bad("a request message has no 'request' object"));
        var kind = Str(r, "kind", "request");
        switch (kind)
        {
            case "DefineFilters":
                var filters = Strings(r, "filters", "DefineFilters").Select((x, i) => ReadFilter(x, $"filters[{i}]")).ToList();
                Dictionary<string, FilterDefinition?>? expected = null;
                if (r["expected"] is JsonObject e)
                {
                    expected = new(StringComparer.Ordinal);
                    foreach (var (name, value) in e)
                    {
                        expected[name] = value is null ? null : ReadFilter(StrValue(value, $"expected.{name}"), $"expected.{name}");
                    }
                }
                else if (r["expected"] is not null)
                {
                    throw new NwFilterException(Bad("DefineFilters.expected is no object"));
                }
                return new DefineFiltersRequest(filters, Bool(r, "allOrNothing", true), Bool(r, "skipUnchanged", false), expected);
            case "UndefineFilter":
                return new UndefineFilterRequest(Str(r, "name", "UndefineFilter"));
            case "ApplyBindings":
                var bindings = r["bindings"] as JsonArray ?? throw new NwFilterException(Bad("ApplyBindings.bindings is no array"));
                return new ApplyBindingsRequest([.. bindings.Select((b, i) => DecodeBinding(b, $"bindings[{i}]"))], OptStr(r, "networkNamespace"));
            case "RemoveBindings":
                return new RemoveBindingsRequest(Strings(r, "portDevices", "RemoveBindings"), OptStr(r, "networkNamespace"));
            case "RestoreBindings":
                return new RestoreBindingsRequest(r["portDevices"] is null ? null : Strings(r, "portDevices", "RestoreBindings"), OptStr(r, "networkNamespace"))
                {
                    Backend = OptStr(r, "backend") is { } b ? ParseBackend(b, "RestoreBindings.backend") : null,
                };
            case "StateResource":
                var resource = Str(r, "resource", "StateResource");
                var operation = Str(r, "operation", "StateResource");
                if (!StateResources.IsOperation(resource, operation))
                {
                    throw new NwFilterException(Bad($"StateResource has no operation '{resource} {operation}' (filter or binding: get, test, set, delete or export; state: get, test, set or export)"));
                }
                return new StateResourceRequest(resource, operation, OptStr(r, "input"), Bool(r, "whatIf", false), OptStr(r, "networkNamespace"));
            case "BindingStatus":
                // a read: the stored bindings with where their learning stands in the daemon (its learners); drift is
                // read by the caller in its own namespace's kernel (Test-NwFilterBinding), never through the door
                return new BindingStatusRequest(r["portDevices"] is null ? null : Strings(r, "portDevices", "BindingStatus"), OptStr(r, "networkNamespace"));
            default:
                throw new NwFilterException(Bad($"unknown request kind '{kind}' (DefineFilters, UndefineFilter, ApplyBindings, RemoveBindings, RestoreBindings, StateResource, BindingStatus)"));
        }
    }

    // ----- responses -----

    /// <summary>The <c>response</c> message of a runtime response.</summary>
    public static JsonObject EncodeResponse(object response)
    {
        var body = response switch
        {
            DefineFiltersResponse d => new JsonObject
            {
                ["kind"] = "DefineFilters",
                ["items"] = Array(d.Items.Select(i => (JsonNode?)new JsonObject
                {
                    ["result"] = i.Result is null ? null : new JsonObject
                    {
                        ["filter"] = EncodeStored(i.Result.Filter),
                        ["outcome"] = i.Result.Outcome.ToString(),
                        ["warnings"] = EncodeDiagnostics(i.Result.Warnings),
                    },
                    ["error"] = EncodeError(i.Error),
                })),
                ["error"] = EncodeError(d.Error),
            },
            UndefineFilterResponse u => new JsonObject
            {
                ["kind"] = "UndefineFilter",
                ["result"] = u.Result is null ? null : new JsonObject
                {
                    ["removed"] = EncodeStored(u.Result.Removed),
                    ["revealed"] = u.Result.Revealed is null ? null : EncodeStored(u.Result.Revealed),
                    ["warnings"] = EncodeDiagnostics(u.Result.Warnings),
                },
                ["error"] = EncodeError(u.Error),
            },
            BindingsResponse b => new JsonObject
            {
                ["kind"] = "Bindings",
                ["networkNamespace"] = b.NetworkNamespace,
                ["items"] = Array(b.Items.Select(i => (JsonNode?)new JsonObject
                {
                    ["portDevice"] = i.PortDevice,
                    ["binding"] = i.Binding is null ? null : EncodeBinding(i.Binding),
                    ["error"] = EncodeError(i.Error),
                })),
                ["warnings"] = EncodeDiagnostics(b.Warnings),
                ["processLaunches"] = b.Execution?.ProcessLaunches,
                ["elapsedMs"] = b.Execution?.Elapsed.TotalMilliseconds,
            },
            StateResourceResponse s => new JsonObject
            {
                ["kind"] = "StateResource",
                ["output"] = Array(s.Output.Select(o => (JsonNode?)o)),
                ["exitCode"] = s.ExitCode,
                ["errors"] = Array(s.Errors.Select(e => (JsonNode?)e)),
                ["warnings"] = Array(s.Warnings.Select(w => (JsonNode?)w)),
            },
            BindingStatusResponse s => new JsonObject
            {
                ["kind"] = "BindingStatus",
                ["networkNamespace"] = s.NetworkNamespace,
                ["bindings"] = Array(s.Bindings.Select(b => (JsonNode?)new JsonObject
                {
                    ["binding"] = EncodeBinding(b.Binding),
                    ["learning"] = b.Learning is null ? null : EncodeLearning(b.Learning),
                })),
                ["problems"] = EncodeDiagnostics(s.Problems),
            },
            _ => throw new ArgumentException($"{response.GetType().Name} is no response of the control contract.", nameof(response)),
        };
        var m = Message("response");
        m["response"] = body;
        return m;
    }

    /// <summary>The runtime response of a <c>response</c> message to <paramref name="request"/> (whose inputs it refers to by position).</summary>
    public static object DecodeResponse(JsonObject message, object request)
    {
        var r = message["response"] as JsonObject ?? throw new NwFilterException(Bad("a response message has no 'response' object"));
        var kind = Str(r, "kind", "response");
        switch (request, kind)
        {
            case (DefineFiltersRequest d, "DefineFilters"):
                var items = r["items"] as JsonArray ?? throw new NwFilterException(Bad("DefineFilters response has no items"));
                if (items.Count != d.Filters.Count)
                {
                    throw new NwFilterException(Bad($"DefineFilters response has {items.Count} items for {d.Filters.Count} filters"));
                }
                return new DefineFiltersResponse([.. items.Select((n, i) =>
                {
                    var o = n as JsonObject ?? throw new NwFilterException(Bad($"items[{i}] is no object"));
                    DefineResult? result = o["result"] is JsonObject res
                        ? new DefineResult(DecodeStored(res["filter"], $"items[{i}].result.filter"), Enum.Parse<DefineOutcome>(Str(res, "outcome", "result")), DecodeDiagnostics(res["warnings"]))
                        : null;
                    return new BatchItemResult(d.Filters[i], result, DecodeError(o["error"]));
                })], DecodeError(r["error"]));
            case (UndefineFilterRequest, "UndefineFilter"):
                UndefineResult? undone = r["result"] is JsonObject u
                    ? new UndefineResult(DecodeStored(u["removed"], "result.removed"), u["revealed"] is null ? null : DecodeStored(u["revealed"], "result.revealed"), DecodeDiagnostics(u["warnings"]))
                    : null;
                return new UndefineFilterResponse(undone, DecodeError(r["error"]));
            case (ApplyBindingsRequest or RemoveBindingsRequest or RestoreBindingsRequest, "Bindings"):
                var results = r["items"] as JsonArray ?? throw new NwFilterException(Bad("Bindings response has no items"));
                ExecutionReport? execution = r["processLaunches"] is JsonValue launches
                    ? new ExecutionReport([], launches.GetValue<int>(), TimeSpan.FromMilliseconds(r["elapsedMs"]?.GetValue<double>() ?? 0))
                    : null;
                return new BindingsResponse(OptStr(r, "networkNamespace"), [.. results.Select((n, i) =>
                {
                    var o = n as JsonObject ?? throw new NwFilterException(Bad($"items[{i}] is no object"));
                    return new BindingResult(Str(o, "portDevice", $"items[{i}]"), o["binding"] is null ? null : DecodeBinding(o["binding"], $"items[{i}].binding"), DecodeError(o["error"]));
                })], DecodeDiagnostics(r["warnings"]), execution);
            case (StateResourceRequest, "StateResource"):
                var exit = r["exitCode"] is JsonValue code && code.GetValueKind() == JsonValueKind.Number && code.TryGetValue<int>(out var c) && c is >= 0 and <= 255
                    ? c
                    : throw new NwFilterException(Bad("StateResource response has no exitCode of 0..255"));
                return new StateResourceResponse([.. Strings(r, "output", "StateResource")], exit, [.. Strings(r, "errors", "StateResource")], [.. Strings(r, "warnings", "StateResource")]);
            case (BindingStatusRequest, "BindingStatus"):
                var statuses = r["bindings"] as JsonArray ?? throw new NwFilterException(Bad("BindingStatus response has no bindings"));
                return new BindingStatusResponse(OptStr(r, "networkNamespace"), [.. statuses.Select((n, i) =>
                {
                    var o = n as JsonObject ?? throw new NwFilterException(Bad($"bindings[{i}] is no object"));
                    return new BindingStatus(DecodeBinding(o["binding"], $"bindings[{i}].binding"), o["learning"] is null ? null : DecodeLearning(o["learning"], $"bindings[{i}].learning"));
                })], DecodeDiagnostics(r["problems"]), []);
            default:
                throw new NwFilterException(Bad($"a {kind} response does not answer a {request.GetType().Name}"));
        }
    }

    // ----- events, progress, confirmations -----

    /// <summary>An <c>event</c> message.</summary>
    public static JsonObject EncodeEvent(RuntimeEvent e)
    {
        var m = Message("event");
        m["level"] = e.Level.ToString();
        m["id"] = e.Id;
        m["message"] = e.Message;
        m["target"] = e.Target;
        m["networkNamespace"] = e.NetworkNamespace;
        m["error"] = EncodeError(e.Error);
        return m;
    }

    /// <summary>The runtime event of an <c>event</c> message.</summary>
    public static RuntimeEvent DecodeEvent(JsonObject m) =>
        new(ParseEnum<RuntimeEventLevel>(Str(m, "level", "event"), "event.level"), Str(m, "id", "event"), Str(m, "message", "event"))
        {
            Target = OptStr(m, "target"),
            NetworkNamespace = OptStr(m, "networkNamespace"),
            Error = DecodeError(m["error"]),
        };

    /// <summary>A <c>progress</c> message.</summary>
    public static JsonObject EncodeProgress(RuntimeProgress p)
    {
        var m = Message("progress");
        m["activity"] = p.Activity;
        m["status"] = p.Status;
        m["percent"] = p.Percent;
        return m;
    }

    /// <summary>The progress of a <c>progress</c> message.</summary>
    public static RuntimeProgress DecodeProgress(JsonObject m) =>
        new(Str(m, "activity", "progress"), Str(m, "status", "progress"), m["percent"]?.GetValue<int>() ?? 0);

    /// <summary>A <c>confirm</c> message (the plan is sent only when the client asks for it).</summary>
    public static JsonObject EncodeConfirm(ConfirmationRequest c)
    {
        var m = Message("confirm");
        m["target"] = c.Target;
        m["action"] = c.Action;
        m["description"] = c.Description;
        m["query"] = c.Query;
        m["caption"] = c.Caption;
        m["hasPlan"] = c.Plan is not null;
        return m;
    }

    /// <summary>The confirmation of a <c>confirm</c> message; its plan, when it has one, is asked for through <paramref name="plan"/>.</summary>
    public static ConfirmationRequest DecodeConfirm(JsonObject m, Func<string> plan) =>
        new(Str(m, "target", "confirm"), Str(m, "action", "confirm"))
        {
            Description = OptStr(m, "description"),
            Query = OptStr(m, "query"),
            Caption = OptStr(m, "caption"),
            Plan = m["hasPlan"]?.GetValue<bool>() == true ? plan : null,
        };

    // ----- values -----

    /// <summary>A binding as its canonical XML and whether the host left its backend to the runtime.</summary>
    public static JsonNode EncodeBinding(FilterBinding b) => new JsonObject
    {
        ["xml"] = NwFilterXmlWriter.Write(b),
        ["backend"] = b.BackendUnset ? null : b.Backend.ToString(),
    };

    private static FilterBinding DecodeBinding(JsonNode? node, string where)
    {
        var o = node as JsonObject ?? throw new NwFilterException(Bad($"{where} is no object"));
        var read = NwFilterXmlReader.ReadBinding(Str(o, "xml", where), XmlReadOptions.Strict with { SourceName = where }).Value;
        return OptStr(o, "backend") is { } b
            ? read with { Backend = ParseBackend(b, where + ".backend"), BackendUnset = false }
            : read with { Backend = FirewallBackendKind.EbIpTables, BackendUnset = true };
    }

    /// <summary>Where a binding's learning stands in the daemon: mode, state, whether a learner listens, the addresses.</summary>
    private static JsonObject EncodeLearning(BindingLearningStatus l) => new()
    {
        ["portDevice"] = l.PortDevice,
        ["mode"] = l.Mode.ToString(),
        ["state"] = l.State.ToString(),
        ["listening"] = l.Listening,
        ["addresses"] = Array(l.Addresses.Select(a => (JsonNode?)new JsonObject
        {
            ["address"] = a.Address.ToString(),
            ["source"] = a.Source.ToString(),
            ["learnedAt"] = a.LearnedAt.ToString("O", CultureInfo.InvariantCulture),
            ["expires"] = a.Expires?.ToString("O", CultureInfo.InvariantCulture),
            ["server"] = a.Server?.ToString(),
        })),
    };

    private static BindingLearningStatus DecodeLearning(JsonNode? node, string where)
    {
        var o = node as JsonObject ?? throw new NwFilterException(Bad($"{where} is no object"));
        var addresses = o["addresses"] as JsonArray ?? throw new NwFilterException(Bad($"{where}.addresses is no array"));
        return new BindingLearningStatus(Str(o, "portDevice", where), ParseEnum<IpLearningMode>(Str(o, "mode", where), where + ".mode"),
            ParseEnum<IpLearningState>(Str(o, "state", where), where + ".state"), [.. addresses.Select((n, i) =>
            {
                var a = n as JsonObject ?? throw new NwFilterException(Bad($"{where}.addresses[{i}] is no object"));
                var at = $"{where}.addresses[{i}]";
                return new LearnedAddress(Address(Str(a, "address", at), at + ".address"), ParseEnum<AddressSource>(Str(a, "source", at), at + ".source"),
                    Time(Str(a, "learnedAt", at), at + ".learnedAt"), OptStr(a, "expires") is { } e ? Time(e, at + ".expires") : null,
                    OptStr(a, "server") is { } server ? Address(server, at + ".server") : null);
            })])
        {
            Listening = Bool(o, "listening", false),
            InDaemon = true,
        };
    }

    private static IPAddress Address(string text, string where) =>
        IPAddress.TryParse(text, out var a) ? a : throw new NwFilterException(Bad($"{where} is '{text}', no IP address"));

    private static DateTimeOffset Time(string text, string where) =>
        DateTimeOffset.TryParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t : throw new NwFilterException(Bad($"{where} is '{text}', no round-trip time"));

    private static FilterDefinition ReadFilter(string xml, string where)
    {
        return NwFilterXmlReader.ReadFilter(xml, XmlReadOptions.Strict with { SourceName = where }).Value;
    }

    private static JsonObject EncodeStored(StoredFilter s) => new()
    {
        ["xml"] = NwFilterXmlWriter.Write(s.Definition),
        ["origin"] = s.Origin.ToString(),
        ["path"] = s.Path,
    };

    private static StoredFilter DecodeStored(JsonNode? node, string where)
    {
        var o = node as JsonObject ?? throw new NwFilterException(Bad($"{where} is no object"));
        return new StoredFilter(ReadFilter(Str(o, "xml", where), where), ParseEnum<FilterOrigin>(Str(o, "origin", where), where + ".origin"), OptStr(o, "path"));
    }

    /// <summary>An error as its diagnostics (null stays null).</summary>
    public static JsonNode? EncodeError(NwFilterException? e) => e is null ? null : new JsonObject { ["diagnostics"] = EncodeDiagnostics(e.Diagnostics) };

    /// <summary>The error of an encoded one (null stays null).</summary>
    public static NwFilterException? DecodeError(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }
        var diagnostics = DecodeDiagnostics((node as JsonObject)?["diagnostics"]);
        return diagnostics.IsEmpty ? throw new NwFilterException(Bad("an error has no diagnostics")) : new NwFilterException(diagnostics);
    }

    private static JsonArray EncodeDiagnostics(IEnumerable<Diagnostic> diagnostics) => Array(diagnostics.Select(d => (JsonNode?)new JsonObject
    {
        ["severity"] = d.Severity.ToString(),
        ["code"] = d.Code,
        ["message"] = d.Message,
        ["category"] = d.Category.ToString(),
        ["source"] = d.Source,
        ["line"] = d.Line,
        ["column"] = d.Column,
        ["filter"] = d.Filter,
        ["element"] = d.Element,
        ["attribute"] = d.Attribute,
        ["value"] = d.Value,
    }));

    private static ImmutableArray<Diagnostic> DecodeDiagnostics(JsonNode? node)
    {
        if (node is null)
        {
            return [];
        }
        var a = node as JsonArray ?? throw new NwFilterException(Bad("diagnostics are no array"));
        return [.. a.Select((n, i) =>
        {
            var o = n as JsonObject ?? throw new NwFilterException(Bad($"diagnostic {i} is no object"));
            return new Diagnostic(ParseEnum<DiagnosticSeverity>(Str(o, "severity", "diagnostic"), "diagnostic.severity"), Str(o, "code", "diagnostic"), Str(o, "message", "diagnostic"))
            {
                Category = ParseEnum<DiagnosticCategory>(Str(o, "category", "diagnostic"), "diagnostic.category"),
                Source = OptStr(o, "source"),
                Line = OptInt(o, "line"),
                Column = OptInt(o, "column"),
                Filter = OptStr(o, "filter"),
                Element = OptStr(o, "element"),
                Attribute = OptStr(o, "attribute"),
                Value = OptStr(o, "value"),
            };
        })];
    }

    private static JsonArray Array(IEnumerable<JsonNode?> items) => new([.. items]);

    private static FirewallBackendKind ParseBackend(string value, string where) => ParseEnum<FirewallBackendKind>(value, where);

    private static T ParseEnum<T>(string value, string where) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: false, out var v) && Enum.IsDefined(v) && !char.IsDigit(value[0])
            ? v
            : throw new NwFilterException(Bad($"{where} is '{value}', not one of {string.Join(", ", Enum.GetNames<T>())}"));

    /// <summary>A string field that must be there.</summary>
    public static string Str(JsonObject o, string name, string where) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw new NwFilterException(Bad($"{where}.{name} is missing or no string"));

    private static string StrValue(JsonNode? n, string where) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw new NwFilterException(Bad($"{where} is no string"));

    /// <summary>A string field that may be null or absent.</summary>
    public static string? OptStr(JsonObject o, string name) => o[name] is null ? null : StrValue(o[name], name);

    private static int? OptInt(JsonObject o, string name) =>
        o[name] is null ? null : o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i : throw new NwFilterException(Bad($"{name} is no integer"));

    private static bool Bool(JsonObject o, string name, bool absent) =>
        o[name] is null ? absent : o[name] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : throw new NwFilterException(Bad($"{name} is no boolean"));

    private static List<string> Strings(JsonObject o, string name, string where)
    {
        var a = o[name] as JsonArray ?? throw new NwFilterException(Bad($"{where}.{name} is no array"));
        return [.. a.Select((n, i) => StrValue(n, $"{where}.{name}[{i}]"))];
    }
}
