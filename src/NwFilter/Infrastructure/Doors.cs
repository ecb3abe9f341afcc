using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;
using NwFilter.Core.Runtime.Control;
using NwFilter.Core.Store;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// Where a cmdlet's change goes (docs/design/runtime.md, "Doors"): to nwfilterd when its control socket answers for
/// the store this command names (so one process holds the learners and the held firewall context, and virsh, the
/// cmdlets and libvirt see one state), else to the module's own runtime, as without a daemon.
/// <c>NWFILTER_DAEMON</c> = <c>auto</c> (default) | <c>daemon</c> | <c>inprocess</c>; <c>NWFILTER_DAEMON_SOCKET</c> names the socket.
/// </summary>
/// <remarks>
/// A failure of the door itself (the daemon required and absent, the daemon gone mid-call, a malformed message)
/// becomes the error of every item of the response, with its own id, so the cmdlets report it as any other error.
/// Reads stay local (Get-NwFilter, Test-*: the store's files are the one truth both read), except the binding status of
/// Get-NwFilterBinding, whose learners live in the daemon.
/// </remarks>
internal static class Doors
{
    /// <summary>The daemon this command would use now (null: in-process); throws only for NWFILTER_DAEMON=daemon without one.</summary>
    public static ControlClient? Open(StoreLocation location) =>
        ControlClient.Choose(location, ControlClient.ModeFromEnvironment(), ControlClient.SocketFromEnvironment());

    public static Task<DefineFiltersResponse> HandleAsync(NwFilterRuntime runtime, DefineFiltersRequest request, IRuntimeHost host, CancellationToken token) =>
        Route(runtime, request, host, token, () => runtime.HandleAsync(request, host, token),
            e => new DefineFiltersResponse([.. request.Filters.Select(f => new BatchItemResult(f, null, e))], e));

    public static Task<UndefineFilterResponse> HandleAsync(NwFilterRuntime runtime, UndefineFilterRequest request, IRuntimeHost host, CancellationToken token) =>
        Route(runtime, request, host, token, () => runtime.HandleAsync(request, host, token), e => new UndefineFilterResponse(null, e));

    public static Task<BindingsResponse> HandleAsync(NwFilterRuntime runtime, ApplyBindingsRequest request, IRuntimeHost host, CancellationToken token) =>
        Route(runtime, request, host, token, () => runtime.HandleAsync(request, host, token),
            e => Failed(request.NetworkNamespace, request.Bindings.Select(b => (b.PortDevice, (Core.Model.FilterBinding?)b)), e, host));

    public static Task<BindingsResponse> HandleAsync(NwFilterRuntime runtime, RemoveBindingsRequest request, IRuntimeHost host, CancellationToken token) =>
        Route(runtime, request, host, token, () => runtime.HandleAsync(request, host, token),
            e => Failed(request.NetworkNamespace, request.PortDevices.Select(p => (p, (Core.Model.FilterBinding?)null)), e, host));

    public static Task<BindingsResponse> HandleAsync(NwFilterRuntime runtime, RestoreBindingsRequest request, IRuntimeHost host, CancellationToken token) =>
        Route(runtime, request, host, token, () => runtime.HandleAsync(request, host, token),
            e => Failed(request.NetworkNamespace, (request.PortDevices ?? ["*"]).Select(p => (p, (Core.Model.FilterBinding?)null)), e, host));

    /// <summary>
    /// The stored bindings with their learning status: nwfilterd's when it runs (its learners hold the ports whose bindings
    /// it made, so their state and addresses are only known there), else this process's. Drift is never asked through
    /// the door (it reads the caller's kernel). A failure of the door is the response's one problem.
    /// </summary>
    public static Task<BindingStatusResponse> HandleAsync(NwFilterRuntime runtime, BindingStatusRequest request, IRuntimeHost host, CancellationToken token) =>
        request.TestDrift
            ? runtime.HandleAsync(request, host, token)
            : Route(runtime, request, host, token, () => runtime.HandleAsync(request, host, token),
                e => new BindingStatusResponse(request.NetworkNamespace, [], e.Diagnostics, []), read: true);

    private static async Task<T> Route<T>(NwFilterRuntime runtime, object request, IRuntimeHost host, CancellationToken token, Func<Task<T>> local, Func<NwFilterException, T> failed, bool read = false)
    {
        ControlClient? client;
        try
        {
            client = Open(runtime.Location);
        }
        catch (NwFilterException e)
        {
            return failed(e);
        }
        if (client is null)
        {
            return await local().ConfigureAwait(false);
        }
        await using (client.ConfigureAwait(false))
        {
            host.Report(new RuntimeEvent(RuntimeEventLevel.Verbose, "ThroughDaemon", read ? $"Read from {client.Server} on {client.SocketPath}." : $"Sent to {client.Server} on {client.SocketPath}."));
            try
            {
                return await client.SendAsync<T>(request, host, token).ConfigureAwait(false);
            }
            catch (NwFilterException e)
            {
                return failed(e);
            }
        }
    }

    /// <summary>A bindings response whose items all failed with the door's error (binding requests' item errors are streamed as events too).</summary>
    private static BindingsResponse Failed(string? ns, IEnumerable<(string Port, Core.Model.FilterBinding? Binding)> items, NwFilterException error, IRuntimeHost host)
    {
        var results = items.Select(i => new BindingResult(i.Port, i.Binding, error)).ToList();
        foreach (var r in results)
        {
            host.Report(RuntimeEvent.Failed(error, r.PortDevice) with { NetworkNamespace = ns });
        }
        return new BindingsResponse(ns, [.. results], [], null);
    }
}
