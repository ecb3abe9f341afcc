using System.Collections.Immutable;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Core.DesiredState;

/// <summary>
/// One operation of a DSC v3 command resource (NwFilter/Filter, NwFilter/Binding, NwFilter/State) on one instance, as its JSON entry
/// takes it (docs/design/state.md, "DSC v3" and "Through nwfilterd"): what nwfilterd runs for <c>nwfilterctl dsc</c>.
/// </summary>
/// <param name="Resource"><c>filter</c>, <c>binding</c> or <c>state</c> (the whole host).</param>
/// <param name="Operation"><c>get</c>, <c>test</c>, <c>set</c>, <c>delete</c> (not for state) or <c>export</c>.</param>
/// <param name="Input">The instance's JSON (stdin of the entry); null or blank: none.</param>
/// <param name="WhatIf">Set checks the instance and returns the state it would leave, changing nothing.</param>
/// <param name="NetworkNamespace">Whose bindings (the caller's NWFILTER_NETNS); null: the runtime's default.</param>
public sealed record StateResourceRequest(string Resource, string Operation, string? Input, bool WhatIf = false, string? NetworkNamespace = null);

/// <summary>What the entry prints: its JSON lines on stdout, its error and warning lines on stderr, its exit code.</summary>
/// <param name="Output">The JSON objects, one a line, as printed (compact, PowerShell's ConvertTo-Json escaping).</param>
/// <param name="ExitCode">0 success, 1 the change failed, 2 invalid input (the manifests' exitCodes).</param>
/// <param name="Errors">The error messages (each naming the JSON path or the item).</param>
/// <param name="Warnings">The runtime's warnings.</param>
public sealed record StateResourceResponse(ImmutableArray<string> Output, int ExitCode, ImmutableArray<string> Errors, ImmutableArray<string> Warnings);

/// <summary>
/// The DSC resources' operations over a runtime, with the very semantics of the module's entry script
/// <c>dsc/nwfilter.dsc.ps1</c> (the same properties, the same <c>_inDesiredState</c> from <see cref="StateComparison"/>,
/// the same errors and exit codes): the daemon runs this for a client that starts no PowerShell. Test and get only
/// read; set changes only what differs, through the runtime's own requests (one store and one firewall transaction).
/// </summary>
public static class StateResources
{
    /// <summary>The entry's exit code for a failed change.</summary>
    public const int ExitFailed = 1;

    /// <summary>The entry's exit code for invalid input (a property unknown, missing or wrong; a state refused).</summary>
    public const int ExitInvalidInput = 2;

    private static readonly string[] FilterKeys = ["name", "xml", "hash", "_exist"];
    private static readonly string[] BindingKeys = ["portDevice", "macAddress", "filter", "parameters", "backend", "counters", "_exist"];
    private static readonly string[] StateKeys = ["filters", "bindings", "settings", "stateHash"];

    // PowerShell's ConvertTo-Json -Compress leaves <, >, &, ' and non-ASCII letters as they are: so does this.
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    /// <summary>The known resource operations (what <see cref="RunAsync"/> takes).</summary>
    public static bool IsOperation(string resource, string operation) =>
        (resource.ToLowerInvariant() is "filter" or "binding" && operation.ToLowerInvariant() is "get" or "test" or "set" or "delete" or "export")
        || (resource.Equals("state", StringComparison.OrdinalIgnoreCase) && operation.ToLowerInvariant() is "get" or "test" or "set" or "export");

    /// <summary>True when the operation may change the host (a daemon runs it under its change lock).</summary>
    public static bool Changes(StateResourceRequest request) =>
        request.Operation.ToLowerInvariant() is "set" or "delete" && !(request.WhatIf && request.Operation.Equals("set", StringComparison.OrdinalIgnoreCase));

    /// <summary>Runs one operation; never throws for bad input or a failed change (those are the response's errors).</summary>
    public static async Task<StateResourceResponse> RunAsync(NwFilterRuntime runtime, StateResourceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(request);
        var run = new Run(runtime, request, cancellationToken);
        try
        {
            var output = await run.ExecuteAsync().ConfigureAwait(false);
            return new StateResourceResponse([.. output.Where(o => o is not null).Select(o => o!.ToJsonString(Compact))], 0, [], [.. run.Warnings]);
        }
        catch (ResourceError e)
        {
            return new StateResourceResponse([], e.ExitCode, [e.Message], [.. run.Warnings]);
        }
        catch (NwFilterException e)
        {
            return new StateResourceResponse([], ExitFailed, [e.Message], [.. run.Warnings]);
        }
    }

    private sealed class ResourceError(string message, int exitCode) : Exception(message)
    {
        public int ExitCode { get; } = exitCode;
    }

    private static ResourceError InputError(string message) => new(message, ExitInvalidInput);

    /// <summary>The runtime's host for one operation: confirms every change (the entry runs set with -Confirm:$false), keeps the warnings.</summary>
    private sealed class Host(List<string> warnings) : IRuntimeHost
    {
        public void Report(RuntimeEvent runtimeEvent)
        {
            if (runtimeEvent.Level == RuntimeEventLevel.Warning)
            {
                lock (warnings)
                {
                    warnings.Add(runtimeEvent.Message);
                }
            }
        }

        public void Progress(RuntimeProgress progress)
        {
        }

        public void LearnerStarted(LearnerStarted started)
        {
        }

        public bool Confirm(ConfirmationRequest request) => true;
    }

    private sealed class Run(NwFilterRuntime runtime, StateResourceRequest request, CancellationToken token)
    {
        private Host? _host;

        public List<string> Warnings { get; } = [];

        private IRuntimeHost RuntimeHost => _host ??= new Host(Warnings);

        private string? Ns => request.NetworkNamespace;

        public async Task<IEnumerable<JsonObject?>> ExecuteAsync()
        {
            switch ($"{request.Resource}/{request.Operation}".ToLowerInvariant())
            {
                case "filter/get":
                    return [await GetFilterAsync(Name(Read(FilterKeys, "name"), "name")).ConfigureAwait(false)];
                case "filter/test":
                    return [await TestFilterAsync(Read(FilterKeys, "name")).ConfigureAwait(false)];
                case "filter/set":
                    return [await SetFilterAsync(Read(FilterKeys, "name")).ConfigureAwait(false)];
                case "filter/delete":
                    var f = Read(FilterKeys, "name");
                    f["_exist"] = false;
                    await SetFilterAsync(f).ConfigureAwait(false);
                    return [];
                case "filter/export":
                    return (await StateAsync().ConfigureAwait(false)).Filters.Where(s => s.Origin != "BuiltIn").Select(s => (JsonObject?)new JsonObject
                    {
                        ["name"] = s.Name,
                        ["xml"] = s.Xml,
                        ["hash"] = s.Hash,
                        ["_exist"] = true,
                    }).ToList();
                case "binding/get":
                    return [(await GetBindingAsync(Name(Read(BindingKeys, "portDevice"), "portDevice")).ConfigureAwait(false)).Instance];
                case "binding/test":
                    return [await TestBindingAsync(Read(BindingKeys, "portDevice")).ConfigureAwait(false)];
                case "binding/set":
                    return [await SetBindingAsync(Read(BindingKeys, "portDevice")).ConfigureAwait(false)];
                case "binding/delete":
                    var b = Read(BindingKeys, "portDevice");
                    b["_exist"] = false;
                    await SetBindingAsync(b).ConfigureAwait(false);
                    return [];
                case "binding/export":
                    return (await StateAsync().ConfigureAwait(false)).Bindings.Select(s => (JsonObject?)BindingInstance(s)).ToList();
                case "state/get":
                case "state/export":
                    if (request.Operation.Equals("get", StringComparison.OrdinalIgnoreCase))
                    {
                        Read(StateKeys, null);
                    }
                    return [await HostStateInstanceAsync().ConfigureAwait(false)];
                case "state/test":
                    return [await TestStateAsync(Read(StateKeys, null)).ConfigureAwait(false)];
                case "state/set":
                    return [await SetStateAsync(Read(StateKeys, null)).ConfigureAwait(false)];
                default:
                    throw InputError($"Unknown resource operation '{request.Resource} {request.Operation}'.");
            }
        }

        // ----- the instance (Read-Instance of the entry script) -----

        private JsonObject Read(string[] known, string? required)
        {
            if (string.IsNullOrWhiteSpace(request.Input))
            {
                return required is null ? [] : throw InputError($"No JSON input: give the instance's properties on stdin ({required} required).");
            }
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(request.Input, documentOptions: new JsonDocumentOptions { MaxDepth = 16 });
            }
            catch (Exception e) when (e is JsonException or ArgumentException)
            {
                throw InputError($"The input is not valid JSON: {e.Message}");
            }
            if (node is not JsonObject o)
            {
                throw InputError("The input must be a JSON object.");
            }
            foreach (var (key, _) in o)
            {
                // As the script's -notin: without regard to case; the lookups below are exact, as its hashtable's.
                if (!known.Contains(key, StringComparer.OrdinalIgnoreCase) && !key.Equals("$schema", StringComparison.OrdinalIgnoreCase) && !key.Equals("_inDesiredState", StringComparison.OrdinalIgnoreCase))
                {
                    throw InputError($"'{key}' is not a property of this resource; the properties are {string.Join(", ", known)}.");
                }
            }
            if (required is not null && (!o.ContainsKey(required) || string.IsNullOrEmpty(PsString(o[required]))))
            {
                throw InputError($"The property '{required}' is required.");
            }
            if (o.ContainsKey("_exist") && !(o["_exist"] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False))
            {
                throw InputError("'_exist' must be true or false.");
            }
            return o;
        }

        private static string Name(JsonObject instance, string key) => PsString(instance[key]);

        private static bool Exists(JsonObject instance) => !instance.ContainsKey("_exist") || instance["_exist"]!.GetValue<bool>();

        /// <summary>A JSON value as PowerShell's [string] cast of its ConvertFrom-Json value.</summary>
        private static string PsString(JsonNode? node) => node switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonValue v when v.GetValueKind() == JsonValueKind.True => "True",
            JsonValue v when v.GetValueKind() == JsonValueKind.False => "False",
            JsonArray a => string.Join(" ", a.Select(PsString)),
            _ => node.ToJsonString(),
        };

        // ----- the host's state -----

        private async Task<NwFilterState> StateAsync()
        {
            var snapshot = await HostState.ReadAsync(runtime, Ns, token).ConfigureAwait(false);
            if (snapshot.Problems.FirstOrDefault(p => p.Severity == DiagnosticSeverity.Error) is { } problem)
            {
                throw new NwFilterException(problem); // the entry's Get-NwFilterState stops at an unreadable file
            }
            return snapshot.State;
        }

        private async Task<StateTestResult> TestDocumentAsync(JsonObject document)
        {
            // Test-NwFilterState: the document's namespace, else the caller's.
            var desired = ReadDocument(document);
            var snapshot = await HostState.ReadAsync(runtime, desired.Settings.NetworkNamespace ?? Ns, token).ConfigureAwait(false);
            if (snapshot.Problems.FirstOrDefault(p => p.Severity == DiagnosticSeverity.Error) is { } problem)
            {
                throw StateErrors([problem]);
            }
            return StateComparison.Compare(desired, snapshot.State);
        }

        private NwFilterState ReadDocument(JsonObject document)
        {
            try
            {
                return StateJson.Read(document.ToJsonString(), runtime.Filters.Exists);
            }
            catch (NwFilterException e)
            {
                throw StateErrors(e.Diagnostics);
            }
        }

        private static ResourceError StateErrors(IEnumerable<Diagnostic> diagnostics)
        {
            var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            return Errors(errors.Select(d => d.ToString()), errors.Any(d => ChangeFailed(d.Category)));
        }

        /// <summary>
        /// Whether an error of this category is the host's (the change was tried and failed: exit 1) rather than the
        /// input's (exit 2); the entry sorts Set-NwFilterState's error records by the same categories.
        /// </summary>
        private static bool ChangeFailed(DiagnosticCategory category) =>
            category is DiagnosticCategory.ResourceUnavailable or DiagnosticCategory.InvalidOperation or DiagnosticCategory.PermissionDenied;

        private static ResourceError Errors(IEnumerable<string> messages, bool changeFailed) =>
            new(string.Join(" ", messages), changeFailed ? ExitFailed : ExitInvalidInput);

        /// <summary>
        /// Set-NwFilterState of one document, as the entry runs it (-Confirm:$false): errors of the input exit 2, a change
        /// the host could not make exits 1, as there.
        /// </summary>
        private async Task SetDocumentAsync(JsonObject document)
        {
            var desired = ReadDocument(document);
            var ns = desired.Settings.NetworkNamespace ?? Ns; // Set-NwFilterState: the document's namespace, else the caller's
            var snapshot = await HostState.ReadAsync(runtime, ns, token).ConfigureAwait(false);
            var problems = snapshot.Problems.Where(p => p.Severity == DiagnosticSeverity.Error).ToList();
            var errors = new List<string>(problems.Select(p => p.ToString()));
            var failed = problems.Any(p => ChangeFailed(p.Category));
            StatePlan plan;
            try
            {
                plan = StatePlan.Create(desired, snapshot.State);
            }
            catch (NwFilterException e)
            {
                throw StateErrors([.. snapshot.Problems, .. e.Diagnostics]);
            }
            if (!plan.IsEmpty)
            {
                if (plan.Filters.Length > 0)
                {
                    var defined = await runtime.HandleAsync(new DefineFiltersRequest(plan.Filters, AllOrNothing: true), RuntimeHost, token).ConfigureAwait(false);
                    if (defined.Error is { } error)
                    {
                        throw Errors([.. errors, error.Message], failed || ChangeFailed(error.Primary.Category));
                    }
                    Warnings.AddRange(defined.Items.SelectMany(i => i.Result?.Warnings ?? []).Select(w => w.ToString()));
                }
                if (plan.Apply.Length > 0)
                {
                    failed |= BindingErrors(await runtime.HandleAsync(new ApplyBindingsRequest(plan.Apply, ns), RuntimeHost, token).ConfigureAwait(false), errors);
                }
                if (plan.Remove.Length > 0)
                {
                    failed |= BindingErrors(await runtime.HandleAsync(new RemoveBindingsRequest(plan.Remove, ns), RuntimeHost, token).ConfigureAwait(false), errors);
                }
            }
            if (errors.Count > 0)
            {
                throw Errors(errors, failed);
            }
        }

        /// <summary>Adds the response's binding errors to <paramref name="errors"/>; true when one of them is a change the host could not make.</summary>
        private bool BindingErrors(BindingsResponse response, List<string> errors)
        {
            Warnings.AddRange(response.Warnings.Select(w => w.ToString()));
            var failed = response.Items.Where(i => i.Error is not null).Select(i => i.Error!).ToList();
            errors.AddRange(failed.Select(e => e.Message));
            return failed.Any(e => ChangeFailed(e.Primary.Category));
        }

        // ----- NwFilter/Filter -----

        private async Task<JsonObject> GetFilterAsync(string name)
        {
            var state = await StateAsync().ConfigureAwait(false);
            var filter = state.Filters.FirstOrDefault(f => f.Name == name);
            if (filter is null)
            {
                return new JsonObject { ["name"] = name, ["_exist"] = false };
            }
            // A built-in's state leaves its XML out: the instance shows the filter as Get-NwFilter | ConvertTo-NwFilterXml does.
            var xml = filter.Xml ?? (runtime.Filters.Get(name) is { } stored ? NwFilterXmlWriter.Write(stored.Definition) : null);
            return new JsonObject { ["name"] = name, ["xml"] = xml, ["hash"] = filter.Hash, ["_exist"] = true };
        }

        private async Task<JsonObject> TestFilterAsync(JsonObject instance)
        {
            var actual = await GetFilterAsync(Name(instance, "name")).ConfigureAwait(false);
            var exists = actual["_exist"]!.GetValue<bool>();
            if (!Exists(instance))
            {
                actual["_inDesiredState"] = !exists;
            }
            else if (!instance.ContainsKey("xml"))
            {
                actual["_inDesiredState"] = exists;
            }
            else
            {
                actual["_inDesiredState"] = (await TestDocumentAsync(FilterDocument(instance)).ConfigureAwait(false)).InDesiredState;
            }
            return actual;
        }

        private static JsonObject FilterDocument(JsonObject instance) => new()
        {
            ["filters"] = new JsonArray(new JsonObject { ["name"] = instance["name"]!.DeepClone(), ["xml"] = PsString(instance["xml"]) }),
        };

        private async Task<JsonObject> SetFilterAsync(JsonObject instance)
        {
            var name = Name(instance, "name");
            if (request.WhatIf)
            {
                await TestFilterAsync(instance).ConfigureAwait(false);
                return new JsonObject { ["name"] = name, ["xml"] = instance["xml"]?.DeepClone(), ["_exist"] = Exists(instance) };
            }
            if (!Exists(instance))
            {
                if (runtime.Filters.Get(name) is { IsBuiltIn: false })
                {
                    var removed = await runtime.HandleAsync(new UndefineFilterRequest(name), RuntimeHost, token).ConfigureAwait(false);
                    if (removed.Error is { } error)
                    {
                        throw error;
                    }
                    Warnings.AddRange(removed.Result!.Warnings.Select(w => w.ToString()));
                }
            }
            else
            {
                if (!instance.ContainsKey("xml"))
                {
                    throw InputError($"The property 'xml' is required to define the filter '{name}'.");
                }
                await SetDocumentAsync(FilterDocument(instance)).ConfigureAwait(false);
            }
            return await GetFilterAsync(name).ConfigureAwait(false);
        }

        // ----- NwFilter/State: the whole host, as Export-NwFilterState writes it -----

        private async Task<JsonObject> HostStateInstanceAsync() =>
            (JsonObject)JsonNode.Parse(StateJson.Write(await StateAsync().ConfigureAwait(false)))!;

        /// <summary>The instance as a state document: without the keys dsc adds.</summary>
        private static JsonObject StateDocument(JsonObject instance)
        {
            var document = new JsonObject();
            foreach (var (key, value) in instance)
            {
                if (!key.Equals("$schema", StringComparison.OrdinalIgnoreCase) && !key.Equals("_inDesiredState", StringComparison.OrdinalIgnoreCase))
                {
                    document[key] = value?.DeepClone();
                }
            }
            return document;
        }

        private async Task<JsonObject> TestStateAsync(JsonObject instance)
        {
            var actual = await HostStateInstanceAsync().ConfigureAwait(false);
            actual["_inDesiredState"] = (await TestDocumentAsync(StateDocument(instance)).ConfigureAwait(false)).InDesiredState;
            return actual;
        }

        private async Task<JsonObject> SetStateAsync(JsonObject instance)
        {
            if (request.WhatIf)
            {
                await TestStateAsync(instance).ConfigureAwait(false);
                return StateDocument(instance);
            }
            await SetDocumentAsync(StateDocument(instance)).ConfigureAwait(false);
            return await HostStateInstanceAsync().ConfigureAwait(false);
        }

        // ----- NwFilter/Binding -----

        private static JsonObject BindingInstance(BindingState b)
        {
            var parameters = new JsonObject();
            foreach (var (name, values) in b.Parameters)
            {
                parameters[name] = values.Length == 1 ? values[0] : new JsonArray([.. values.Select(v => (JsonNode?)v)]);
            }
            return new JsonObject
            {
                ["portDevice"] = b.PortDevice,
                ["macAddress"] = b.MacAddress,
                ["filter"] = b.Filter,
                ["parameters"] = parameters,
                ["backend"] = b.Backend.ToString(),
                ["counters"] = b.Counters, // null: left to the host
                ["_exist"] = true,
            };
        }

        private async Task<(JsonObject Instance, BindingState? Current)> GetBindingAsync(string portDevice)
        {
            var state = await StateAsync().ConfigureAwait(false);
            var binding = state.Bindings.FirstOrDefault(b => b.PortDevice == portDevice);
            return binding is null
                ? (new JsonObject { ["portDevice"] = portDevice, ["_exist"] = false }, null)
                : (BindingInstance(binding), binding);
        }

        /// <summary>The state document of one binding: what the instance gives, the current values for the rest (the owner is libvirt's).</summary>
        private static JsonObject BindingDocument(JsonObject instance, BindingState? current)
        {
            var b = new JsonObject { ["portDevice"] = instance["portDevice"]!.DeepClone() };
            var now = current is null ? null : BindingInstance(current);
            foreach (var key in new[] { "macAddress", "filter", "parameters", "backend", "counters" })
            {
                if (instance.ContainsKey(key))
                {
                    b[key] = instance[key]?.DeepClone();
                }
                else if (now is not null)
                {
                    b[key] = now[key]?.DeepClone();
                }
            }
            if (current is not null)
            {
                b["owner"] = current.Owner;
                b["ownerUuid"] = current.OwnerUuid.ToString("D");
                if (!string.IsNullOrEmpty(current.LinkDevice))
                {
                    b["linkDevice"] = current.LinkDevice;
                }
            }
            return new JsonObject { ["bindings"] = new JsonArray(b) };
        }

        private async Task<JsonObject> TestBindingAsync(JsonObject instance)
        {
            var (actual, current) = await GetBindingAsync(Name(instance, "portDevice")).ConfigureAwait(false);
            actual["_inDesiredState"] = Exists(instance)
                ? (await TestDocumentAsync(BindingDocument(instance, current)).ConfigureAwait(false)).InDesiredState
                : current is null;
            return actual;
        }

        private async Task<JsonObject> SetBindingAsync(JsonObject instance)
        {
            var port = Name(instance, "portDevice");
            if (request.WhatIf)
            {
                await TestBindingAsync(instance).ConfigureAwait(false);
                var would = new JsonObject();
                foreach (var (key, value) in instance)
                {
                    if (key != "_inDesiredState")
                    {
                        would[key] = value?.DeepClone();
                    }
                }
                would["_exist"] = Exists(instance);
                return would;
            }
            var (_, current) = await GetBindingAsync(port).ConfigureAwait(false);
            if (!Exists(instance))
            {
                if (current is not null)
                {
                    var removed = await runtime.HandleAsync(new RemoveBindingsRequest([port], Ns), RuntimeHost, token).ConfigureAwait(false);
                    if (removed.Items.FirstOrDefault(i => i.Error is not null)?.Error is { } error)
                    {
                        throw error;
                    }
                }
            }
            else
            {
                foreach (var key in new[] { "macAddress", "filter" })
                {
                    if (current is null && !instance.ContainsKey(key))
                    {
                        throw InputError($"The property '{key}' is required to bind the port '{port}'.");
                    }
                }
                await SetDocumentAsync(BindingDocument(instance, current)).ConfigureAwait(false);
            }
            return (await GetBindingAsync(port).ConfigureAwait(false)).Instance;
        }
    }
}
