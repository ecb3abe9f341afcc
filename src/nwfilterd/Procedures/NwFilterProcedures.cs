using System.Text;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Schema;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;
using NwFilter.Daemon.Protocol;

namespace NwFilter.Daemon.Procedures;

/// <summary>
/// libvirt's nwfilter procedures of the REMOTE program (numbers and layouts of remote_protocol.x; the subset is in
/// docs/design/libvirt-daemon.md) mapped onto the runtime's requests. Changes are serialized (one at a time, in the
/// order they come), reads are not. No socket here: the tests drive it through the dispatcher.
/// </summary>
internal sealed class NwFilterProcedures
{
    // Procedure numbers (remote_procedure in remote_protocol.x).
    public const int ConnectOpen = 1;
    public const int ConnectClose = 2;
    public const int ConnectGetType = 3;
    public const int ConnectGetVersion = 4;
    public const int ConnectGetHostname = 59;
    public const int ConnectSupportsFeature = 60;
    public const int AuthList = 66;
    public const int ConnectGetUri = 110;
    public const int ConnectIsSecure = 149;
    public const int ConnectGetLibVersion = 157;
    public const int NwFilterLookupByName = 175;
    public const int NwFilterLookupByUuid = 176;
    public const int NwFilterGetXmlDesc = 177;
    public const int ConnectNumOfNwFilters = 178;
    public const int ConnectListNwFilters = 179;
    public const int NwFilterDefineXml = 180;
    public const int NwFilterUndefine = 181;
    public const int ConnectListAllNwFilters = 286;
    public const int ConnectRegisterCloseCallback = 360;
    public const int ConnectUnregisterCloseCallback = 361;
    public const int NwFilterBindingLookupByPortDev = 397;
    public const int NwFilterBindingGetXmlDesc = 398;
    public const int NwFilterBindingCreateXml = 399;
    public const int NwFilterBindingDelete = 400;
    public const int ConnectListAllNwFilterBindings = 401;
    public const int ConnectSetIdentity = 419;
    public const int NwFilterDefineXmlFlags = 431;

    /// <summary>virDrvFeature values answered here.</summary>
    private const int FeatureProgramKeepAlive = 10;
    private const int FeatureRemoteEventCallback = 14;
    private const int FeatureRemoteCloseCallback = 15;

    /// <summary>VIR_CONNECT_RO.</summary>
    private const uint ConnectReadOnly = 1;
    /// <summary>VIR_NWFILTER_DEFINE_VALIDATE.</summary>
    private const uint DefineValidate = 1;
    /// <summary>VIR_NWFILTER_BINDING_CREATE_VALIDATE.</summary>
    private const uint BindingCreateValidate = 1;

    /// <summary>The URI the driver answers to (and CONNECT_GET_URI returns).</summary>
    public const string SystemUri = "nwfilter:///system";

    /// <summary>The libvirt release whose behaviour nwfilterd follows (CONNECT_GET_LIB_VERSION: 9.0.0).</summary>
    public const ulong LibVersion = 9_000_000;

    private readonly NwFilterRuntime _runtime;
    private readonly IRuntimeHost _host;
    private readonly FirewallBackendKind? _defaultBackend;
    private readonly Action<string> _log;
    private readonly SemaphoreSlim _changes = new(1, 1);

    /// <summary>The lock every change takes (libvirt's calls and the control socket's): one change at a time.</summary>
    internal SemaphoreSlim Changes => _changes;
    private readonly List<PendingCreate> _pending = [];

    /// <summary>
    /// Procedures over <paramref name="runtime"/>; bindings whose XML names no backend get <paramref name="defaultBackend"/>,
    /// or, when it is null, the runtime's default (as a binding made by Invoke-NwFilterBinding without -Backend).
    /// </summary>
    public NwFilterProcedures(NwFilterRuntime runtime, IRuntimeHost host, FirewallBackendKind? defaultBackend, Action<string> log)
    {
        _runtime = runtime;
        _host = host;
        _defaultBackend = defaultBackend;
        _log = log;
    }

    /// <summary>A dispatcher serving every procedure of the subset.</summary>
    public RpcDispatcher<ConnectionState> CreateDispatcher(Action<RpcHeader, Exception>? onFault = null)
    {
        var d = new RpcDispatcher<ConnectionState> { OnFault = onFault };
        d.Add(AuthList, (c, _) => Sync(c, null, _ => new XdrWriter().WriteUInt32(1).WriteInt32(0))) // [REMOTE_AUTH_NONE]
         .Add(ConnectSupportsFeature, (c, _) => Sync(c, null, SupportsFeature))
         .Add(ConnectOpen, (c, _) => Sync(c, null, Open))
         .Add(ConnectClose, (c, _) => Sync(c, null, Close))
         .Add(ConnectSetIdentity, (c, _) => Opened(c, SetIdentity))
         .Add(ConnectGetType, (c, _) => Opened(c, _ => new XdrWriter().WriteString("NWFILTER")))
         .Add(ConnectGetVersion, (c, _) => Opened(c, _ => new XdrWriter().WriteUInt64(LibVersion)))
         .Add(ConnectGetLibVersion, (c, _) => Opened(c, _ => new XdrWriter().WriteUInt64(LibVersion)))
         .Add(ConnectGetHostname, (c, _) => Opened(c, _ => new XdrWriter().WriteString(Environment.MachineName)))
         .Add(ConnectGetUri, (c, _) => Opened(c, _ => new XdrWriter().WriteString(SystemUri)))
         .Add(ConnectIsSecure, (c, _) => Opened(c, _ => new XdrWriter().WriteInt32(1))) // a local Unix socket
         .Add(ConnectRegisterCloseCallback, (c, _) => Opened(c, NoArguments))
         .Add(ConnectUnregisterCloseCallback, (c, _) => Opened(c, NoArguments))
         .Add(NwFilterLookupByName, (c, _) => Opened(c, LookupByName))
         .Add(NwFilterLookupByUuid, (c, _) => Opened(c, LookupByUuid))
         .Add(NwFilterGetXmlDesc, (c, _) => Opened(c, GetXmlDesc))
         .Add(ConnectNumOfNwFilters, (c, _) => Opened(c, NumOfFilters))
         .Add(ConnectListNwFilters, (c, _) => Opened(c, ListFilters))
         .Add(ConnectListAllNwFilters, (c, _) => Opened(c, ListAllFilters))
         .Add(NwFilterDefineXml, (c, _) => Change(c, "virNWFilterDefineXML", (a, ct) => DefineAsync(a, false, ct)))
         .Add(NwFilterDefineXmlFlags, (c, _) => Change(c, "virNWFilterDefineXMLFlags", (a, ct) => DefineAsync(a, true, ct)))
         .Add(NwFilterUndefine, (c, _) => Change(c, "virNWFilterUndefine", UndefineAsync))
         .Add(NwFilterBindingLookupByPortDev, (c, _) => Opened(c, LookupBinding))
         .Add(NwFilterBindingGetXmlDesc, (c, _) => Opened(c, GetBindingXmlDesc))
         .Add(ConnectListAllNwFilterBindings, (c, _) => Opened(c, ListAllBindings))
         .Add(NwFilterBindingCreateXml, (c, _) => CreateBindingAsync(c))
         .Add(NwFilterBindingDelete, (c, _) => Change(c, "virNWFilterBindingDelete", DeleteBindingAsync));
        return d;
    }

    // ---- the connection ----

    private static XdrWriter SupportsFeature(Call call)
    {
        var r = call.Reader();
        var feature = r.ReadInt32();
        r.End();
        var supported = feature is FeatureProgramKeepAlive or FeatureRemoteEventCallback or FeatureRemoteCloseCallback;
        return new XdrWriter().WriteInt32(supported ? 1 : 0);
    }

    private XdrWriter? Open(Call call)
    {
        var r = call.Reader();
        var name = r.ReadOptionalString(Rpc.MaxString);
        var flags = r.ReadUInt32();
        r.End();
        if (name is not null && !IsNwFilterUri(name))
        {
            throw new RpcErrorException(RpcError.Of(5, ErrorDomain.Remote, $"no connection driver available for {name}"));
        }
        if ((flags & ~ConnectReadOnly) != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "virConnectOpen");
        }
        call.Connection.Opened = true;
        call.Connection.ReadOnly = call.Connection.ReadOnlySocket || (flags & ConnectReadOnly) != 0;
        _log($"connection {call.Connection.Id} ({call.Connection.Peer}) opened {name ?? SystemUri}{(call.Connection.ReadOnly ? " read-only" : "")}");
        return null;
    }

    /// <summary>nwfilter:///system, as the client sends it (its transport and socket parameters removed).</summary>
    internal static bool IsNwFilterUri(string name)
    {
        if (!Uri.TryCreate(name, UriKind.Absolute, out var uri))
        {
            return false;
        }
        var scheme = uri.Scheme;
        return (scheme == "nwfilter" || scheme.StartsWith("nwfilter+", StringComparison.Ordinal)) && uri.AbsolutePath == "/system";
    }

    private static XdrWriter? Close(Call call)
    {
        call.Reader().End();
        call.Connection.Opened = false;
        return null;
    }

    private XdrWriter? SetIdentity(Call call)
    {
        var r = call.Reader();
        var count = r.ReadArrayCount(Rpc.MaxIdentityParams, 8);
        var pairs = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var field = r.ReadString(256);
            var type = r.ReadInt32();
            string value = type switch
            {
                1 => r.ReadInt32().ToString(System.Globalization.CultureInfo.InvariantCulture),
                2 => r.ReadUInt32().ToString(System.Globalization.CultureInfo.InvariantCulture),
                3 => r.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                4 => r.ReadUInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                5 => r.ReadDouble().ToString(System.Globalization.CultureInfo.InvariantCulture),
                6 => r.ReadInt32() != 0 ? "true" : "false",
                7 => r.ReadString(4096),
                _ => throw new XdrException($"typed parameter '{field}' has unknown type {type}"),
            };
            pairs.Add($"{field}={value}");
        }
        var flags = r.ReadUInt32();
        r.End();
        if (flags != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "virConnectSetIdentity");
        }
        call.Connection.Identity = string.Join(" ", pairs);
        _log($"connection {call.Connection.Id} identity {call.Connection.Identity}");
        return null;
    }

    private static XdrWriter? NoArguments(Call call)
    {
        call.Reader().End();
        return null;
    }

    // ---- filters ----

    private XdrWriter LookupByName(Call call)
    {
        var r = call.Reader();
        var name = r.ReadString(Rpc.MaxString);
        r.End();
        var filter = FindFilter(name) ?? throw LibvirtErrors.NoFilterByName(name);
        return WriteFilter(new XdrWriter(), filter);
    }

    private XdrWriter LookupByUuid(Call call)
    {
        var r = call.Reader();
        var uuid = ReadUuid(ref r);
        r.End();
        var filter = _runtime.Filters.FindByUuid(uuid) ?? throw LibvirtErrors.NoFilterByUuid(uuid);
        return WriteFilter(new XdrWriter(), filter);
    }

    private XdrWriter GetXmlDesc(Call call)
    {
        var r = call.Reader();
        var (name, uuid) = ReadFilterRef(ref r);
        var flags = r.ReadUInt32();
        r.End();
        if (flags != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "nwfilterGetXMLDesc");
        }
        // libvirt finds the object by its uuid.
        var filter = _runtime.Filters.FindByUuid(uuid) ?? throw new RpcErrorException(RpcError.Of(ErrorCode.NoNwFilter, ErrorDomain.NwFilter, $"no nwfilter with matching uuid '{uuid:D}' ({name})"));
        return new XdrWriter(1024).WriteString(NwFilterXmlWriter.Write(filter.Definition));
    }

    private XdrWriter NumOfFilters(Call call)
    {
        call.Reader().End();
        return new XdrWriter().WriteInt32(_runtime.Filters.List().Filters.Length);
    }

    private XdrWriter ListFilters(Call call)
    {
        var r = call.Reader();
        var max = r.ReadInt32();
        r.End();
        if (max < 0 || max > Rpc.MaxNwFilterNames)
        {
            throw new RpcErrorException(RpcError.Of(ErrorCode.Rpc, ErrorDomain.Rpc, "maxnames > REMOTE_NWFILTER_LIST_MAX"));
        }
        var names = _runtime.Filters.List().Filters.Take(max).Select(f => f.Name).ToList();
        var w = new XdrWriter(16 + names.Count * 32).WriteUInt32((uint)names.Count);
        foreach (var n in names)
        {
            w.WriteString(n);
        }
        return w;
    }

    private XdrWriter ListAllFilters(Call call)
    {
        var r = call.Reader();
        var needResults = r.ReadInt32();
        var flags = r.ReadUInt32();
        r.End();
        if (flags != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "nwfilterConnectListAllNWFilters");
        }
        var filters = _runtime.Filters.List().Filters;
        var w = new XdrWriter(16 + filters.Length * 48);
        if (needResults != 0)
        {
            w.WriteUInt32((uint)filters.Length);
            foreach (var f in filters)
            {
                WriteFilter(w, f);
            }
        }
        else
        {
            w.WriteUInt32(0);
        }
        return w.WriteUInt32((uint)filters.Length);
    }

    private async ValueTask<XdrWriter?> DefineAsync(ReadOnlyMemory<byte> arguments, bool withFlags, CancellationToken cancellationToken)
    {
        var (xml, flags) = ReadXmlAndFlags(arguments, withFlags);
        if ((flags & ~DefineValidate) != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "nwfilterDefineXMLFlags");
        }
        FilterDefinition definition;
        try
        {
            // Plain libvirt ignores what it does not know; with --validate it checks the document against its schema.
            definition = NwFilterXmlReader.ReadFilter(xml, Options(flags & DefineValidate, "nwfilter_definition")).Value;
        }
        catch (NwFilterException e)
        {
            throw LibvirtErrors.From(e);
        }
        if (definition.Uuid is null && FindFilter(definition.Name) is { } existing)
        {
            // libvirt gives a definition without a uuid a fresh one, which then clashes with the filter of that name.
            throw new RpcErrorException(RpcError.Of(ErrorCode.OperationFailed, ErrorDomain.NwFilter, $"filter '{existing.Name}' already exists with uuid {existing.Uuid:D}"));
        }
        var response = await _runtime.HandleAsync(new DefineFiltersRequest([definition]), _host, cancellationToken).ConfigureAwait(false);
        var item = response.Items[0];
        if (response.Error is { } error)
        {
            throw LibvirtErrors.From(error);
        }
        if (item.Error is { } itemError)
        {
            throw LibvirtErrors.From(itemError);
        }
        var stored = item.Result!.Filter;
        _log($"filter {stored.Name} {item.Result.Outcome.ToString().ToLowerInvariant()} ({stored.Uuid:D})");
        return WriteFilter(new XdrWriter(), stored);
    }

    private async ValueTask<XdrWriter?> UndefineAsync(ReadOnlyMemory<byte> arguments, CancellationToken cancellationToken)
    {
        var (name, uuid) = Decode(arguments, static (ref XdrReader r) =>
        {
            var v = ReadFilterRef(ref r);
            r.End();
            return v;
        });
        var filter = _runtime.Filters.FindByUuid(uuid) ?? throw new RpcErrorException(RpcError.Of(ErrorCode.NoNwFilter, ErrorDomain.NwFilter, $"no nwfilter with matching uuid '{uuid:D}' ({name})"));
        var response = await _runtime.HandleAsync(new UndefineFilterRequest(filter.Name), _host, cancellationToken).ConfigureAwait(false);
        if (response.Error is { } error)
        {
            throw LibvirtErrors.From(error);
        }
        _log($"filter {filter.Name} undefined{(response.Result?.Revealed is not null ? " (the built-in filter of that name is in force again)" : "")}");
        return null;
    }

    // ---- bindings ----

    private XdrWriter LookupBinding(Call call)
    {
        var r = call.Reader();
        var port = r.ReadString(Rpc.MaxString);
        r.End();
        var binding = FindBinding(port) ?? throw LibvirtErrors.NoBinding(port);
        return WriteBinding(new XdrWriter(), binding);
    }

    private XdrWriter GetBindingXmlDesc(Call call)
    {
        var r = call.Reader();
        var (port, _) = ReadBindingRef(ref r);
        var flags = r.ReadUInt32();
        r.End();
        if (flags != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "nwfilterBindingGetXMLDesc");
        }
        var binding = FindBinding(port) ?? throw LibvirtErrors.NoBinding(port);
        return new XdrWriter(1024).WriteString(BindingXml(binding));
    }

    private XdrWriter ListAllBindings(Call call)
    {
        var r = call.Reader();
        var needResults = r.ReadInt32();
        var flags = r.ReadUInt32();
        r.End();
        if (flags != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "nwfilterConnectListAllNWFilterBindings");
        }
        var bindings = Store().List().Bindings;
        var w = new XdrWriter(16 + bindings.Length * 48);
        if (needResults != 0)
        {
            w.WriteUInt32((uint)bindings.Length);
            foreach (var b in bindings)
            {
                WriteBinding(w, b);
            }
        }
        else
        {
            w.WriteUInt32(0);
        }
        return w.WriteUInt32((uint)bindings.Length);
    }

    /// <summary>
    /// A create: decoded and checked on its own, then applied together with every other create waiting when the
    /// change lock comes free (group commit: 1,000 VM starts at once are a few batches, not 1,000 firewall rewrites).
    /// Each caller gets its own binding's result; a batch keeps libvirt's rules (one binding per port).
    /// </summary>
    private async ValueTask<XdrWriter?> CreateBindingAsync(RpcCall<ConnectionState> call)
    {
        if (!call.Connection.Opened)
        {
            throw LibvirtErrors.NotOpen();
        }
        if (call.Connection.ReadOnly)
        {
            throw LibvirtErrors.ReadOnly("virNWFilterBindingCreateXML");
        }
        var pending = new PendingCreate(ParseCreate(call.Arguments));
        lock (_pending)
        {
            _pending.Add(pending);
        }
        await _changes.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (!pending.Result.Task.IsCompleted)
            {
                await RunCreatesAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _changes.Release();
        }
        var item = await pending.Result.Task.ConfigureAwait(false);
        return WriteBinding(new XdrWriter(), item.Binding ?? pending.Binding);
    }

    private FilterBinding ParseCreate(ReadOnlyMemory<byte> arguments)
    {
        var (xml, flags) = ReadXmlAndFlags(arguments, true);
        if ((flags & ~BindingCreateValidate) != 0)
        {
            throw LibvirtErrors.UnsupportedFlags(flags, "nwfilterBindingCreateXML");
        }
        FilterBinding binding;
        try
        {
            binding = NwFilterXmlReader.ReadBinding(xml, Options(flags & BindingCreateValidate, "nwfilterbinding_definition")).Value;
        }
        catch (NwFilterException e)
        {
            throw LibvirtErrors.From(e);
        }
        if (!NamesBackend(xml))
        {
            binding = _defaultBackend is { } kind ? binding with { Backend = kind } : binding with { BackendUnset = true };
        }
        if (!binding.Parameters.ContainsKey("MAC"))
        {
            // libvirt's driver gives the filter the port's MAC as parameter MAC, and keeps it in the binding.
            binding = binding with { Parameters = binding.Parameters.With("MAC", MacAddressText.Format(binding.MacAddress)) };
        }
        return binding;
    }

    /// <summary>Applies every waiting create in one request (under the change lock) and completes each.</summary>
    private async Task RunCreatesAsync()
    {
        List<PendingCreate> batch;
        lock (_pending)
        {
            batch = [.. _pending];
            _pending.Clear();
        }
        var accepted = new List<PendingCreate>(batch.Count);
        var ports = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in batch)
        {
            try
            {
                // libvirt refuses a second binding on a port (the qemu driver deletes before it re-creates).
                if (!ports.Add(p.Binding.PortDevice) || FindBinding(p.Binding.PortDevice) is not null)
                {
                    throw LibvirtErrors.BindingExists(p.Binding.PortDevice);
                }
                accepted.Add(p);
            }
            catch (RpcErrorException e)
            {
                p.Result.TrySetException(e);
            }
        }
        if (accepted.Count == 0)
        {
            return;
        }
        try
        {
            var response = await _runtime.HandleAsync(new ApplyBindingsRequest([.. accepted.Select(p => p.Binding)]), _host, CancellationToken.None).ConfigureAwait(false);
            foreach (var p in accepted)
            {
                var binding = p.Binding;
                var item = response.Items.FirstOrDefault(i => i.PortDevice == binding.PortDevice);
                if (item is null)
                {
                    p.Result.TrySetException(new RpcErrorException(RpcError.Of(ErrorCode.OperationFailed, ErrorDomain.NwFilter, $"binding '{binding.PortDevice}' was not created")));
                }
                else if (item.Error is { } error)
                {
                    p.Result.TrySetException(LibvirtErrors.From(error));
                }
                else
                {
                    _log($"binding {binding.PortDevice} created: filter {binding.Filter}, owner {binding.OwnerName} {binding.OwnerUuid:D}, mac {MacAddressText.Format(binding.MacAddress)}, {(item.Binding ?? binding).Backend}{(item.Learner is { } l ? ", learning " + l.Mode.ToString().ToLowerInvariant() : "")}{(accepted.Count > 1 ? $" (batch of {accepted.Count})" : "")}");
                    p.Result.TrySetResult(item);
                }
            }
        }
        catch (Exception e)
        {
            foreach (var p in accepted)
            {
                p.Result.TrySetException(e);
            }
        }
    }

    /// <summary>A create waiting for its batch.</summary>
    private sealed record PendingCreate(FilterBinding Binding)
    {
        public TaskCompletionSource<Core.Apply.BindingResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async ValueTask<XdrWriter?> DeleteBindingAsync(ReadOnlyMemory<byte> arguments, CancellationToken cancellationToken)
    {
        var (port, _) = Decode(arguments, static (ref XdrReader r) =>
        {
            var v = ReadBindingRef(ref r);
            r.End();
            return v;
        });
        if (FindBinding(port) is null)
        {
            throw LibvirtErrors.NoBinding(port);
        }
        var response = await _runtime.HandleAsync(new RemoveBindingsRequest([port]), _host, cancellationToken).ConfigureAwait(false);
        if (response.Items.FirstOrDefault() is { Error: { } error })
        {
            throw LibvirtErrors.From(error);
        }
        _log($"binding {port} deleted");
        return null;
    }

    // ---- helpers ----

    private BindingStore Store() => _runtime.Manager(null).Store;

    private StoredFilter? FindFilter(string name)
    {
        try
        {
            return _runtime.Filters.Get(name);
        }
        catch (NwFilterException)
        {
            return null; // an invalid name has no filter
        }
    }

    private FilterBinding? FindBinding(string port)
    {
        if (InterfaceNames.Problem(port) is not null)
        {
            return null; // not an interface name: no binding can have it
        }
        try
        {
            return Store().Get(port);
        }
        catch (NwFilterException e)
        {
            throw LibvirtErrors.From(e);
        }
    }

    /// <summary>The binding's XML as libvirt prints it: the backend element only when it is not the daemon's default.</summary>
    private string BindingXml(FilterBinding binding)
    {
        var xml = NwFilterXmlWriter.Write(binding);
        // The default's bindings are written as libvirt sent them: without <backend> (auto's default is nftables).
        return binding.Backend == (_defaultBackend ?? FirewallBackendKind.Nftables) && binding.Backend == FirewallBackendKind.Nftables
            ? xml.Replace("  <backend name='nftables'/>\n", "", StringComparison.Ordinal)
            : xml;
    }

    /// <summary>True when the binding document has a &lt;backend&gt; element of its own.</summary>
    private static bool NamesBackend(string xml) => xml.Contains("<backend", StringComparison.Ordinal);

    private static XmlReadOptions Options(uint validate, string source) =>
        (validate != 0 ? XmlReadOptions.Strict : XmlReadOptions.LenientDefault) with { SourceName = source };

    private static XdrWriter WriteFilter(XdrWriter w, StoredFilter filter)
    {
        w.WriteString(filter.Name);
        Span<byte> uuid = stackalloc byte[16];
        WriteUuid(filter.Uuid, uuid);
        return w.WriteFixedOpaque(uuid);
    }

    private static XdrWriter WriteBinding(XdrWriter w, FilterBinding binding) => w.WriteString(binding.PortDevice).WriteString(binding.Filter);

    private static (string Name, Guid Uuid) ReadFilterRef(ref XdrReader r)
    {
        var name = r.ReadString(Rpc.MaxString);
        return (name, ReadUuid(ref r));
    }

    private static (string PortDevice, string Filter) ReadBindingRef(ref XdrReader r) => (r.ReadString(Rpc.MaxString), r.ReadString(Rpc.MaxString));

    /// <summary>A remote_uuid: 16 bytes in RFC 4122 order (the text's order), not .NET's mixed-endian layout.</summary>
    internal static Guid ReadUuid(ref XdrReader r) => new(r.ReadFixedOpaque(16), bigEndian: true);

    internal static void WriteUuid(Guid uuid, Span<byte> destination) => uuid.TryWriteBytes(destination, bigEndian: true, out _);

    private static (string Xml, uint Flags) ReadXmlAndFlags(ReadOnlyMemory<byte> arguments, bool withFlags)
    {
        var r = new XdrReader(arguments.Span);
        var xml = r.ReadString(Rpc.MaxString);
        var flags = withFlags ? r.ReadUInt32() : 0;
        r.End();
        return (xml, flags);
    }

    private delegate T Decoder<T>(ref XdrReader reader);

    private static T Decode<T>(ReadOnlyMemory<byte> arguments, Decoder<T> decode)
    {
        var r = new XdrReader(arguments.Span);
        return decode(ref r);
    }

    // ---- how procedures are wrapped ----

    /// <summary>A call with its arguments, for the synchronous procedures.</summary>
    private readonly record struct Call(RpcCall<ConnectionState> Inner)
    {
        public ConnectionState Connection => Inner.Connection;

        public XdrReader Reader() => new(Inner.Arguments.Span);
    }

    private static ValueTask<XdrWriter?> Sync(RpcCall<ConnectionState> call, string? function, Func<Call, XdrWriter?> body) =>
        ValueTask.FromResult(body(new Call(call)));

    private static ValueTask<XdrWriter?> Opened(RpcCall<ConnectionState> call, Func<Call, XdrWriter?> body)
    {
        if (!call.Connection.Opened)
        {
            throw LibvirtErrors.NotOpen();
        }
        return ValueTask.FromResult(body(new Call(call)));
    }

    /// <summary>A change: on an open, writable connection, one at a time.</summary>
    private async ValueTask<XdrWriter?> Change(RpcCall<ConnectionState> call, string function, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask<XdrWriter?>> body)
    {
        if (!call.Connection.Opened)
        {
            throw LibvirtErrors.NotOpen();
        }
        if (call.Connection.ReadOnly)
        {
            throw LibvirtErrors.ReadOnly(function);
        }
        await _changes.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            // A change runs to its end even when its client goes away: half a change is worse than a late one.
            return await body(call.Arguments, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>A text for the log: what a binding XML says, shortened.</summary>
    internal static string Shorten(string text, int max = 200)
    {
        var sb = new StringBuilder(Math.Min(text.Length, max));
        foreach (var c in text)
        {
            if (sb.Length >= max)
            {
                sb.Append('…');
                break;
            }
            sb.Append(char.IsControl(c) ? ' ' : c);
        }
        return sb.ToString();
    }
}
