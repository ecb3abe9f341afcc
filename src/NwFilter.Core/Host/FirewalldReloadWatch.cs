using Tmds.DBus.Protocol;

namespace NwFilter.Core.Host;

/// <summary>
/// firewalld's reload signal as a ruleset change: <c>Reloaded</c> of <c>org.fedoraproject.FirewallD1</c> on the system
/// D-Bus (Tmds.DBus.Protocol). firewalld flushes and rebuilds its own tables on <c>firewall-cmd --reload</c> (with the
/// iptables backend it flushes every table, NwFilter's EbIpTables chains included); each signal is one change, and the
/// service then checks and repairs. The match names no sender: whoever owns firewalld's name, or a firewalld started
/// after the watch, is heard; a signal that was no change costs one check. When the bus goes away (dbus restarted) the
/// watch connects again and reports one change, since a reload may have been missed meanwhile.
/// </summary>
/// <param name="address">The bus address; null: the system bus (<c>DBUS_SYSTEM_BUS_ADDRESS</c>, else <c>/run/dbus/system_bus_socket</c>).</param>
internal sealed class FirewalldReloadWatch(string? address = null) : IRulesetChangeSource
{
    /// <summary>firewalld's bus name and interface.</summary>
    public const string Interface = "org.fedoraproject.FirewallD1";

    /// <summary>The object that emits <see cref="Signal"/>.</summary>
    public const string ObjectPath = "/org/fedoraproject/FirewallD1";

    /// <summary>The signal firewalld sends when its reload is done.</summary>
    public const string Signal = "Reloaded";

    /// <summary>The system bus socket of a host that runs D-Bus.</summary>
    public const string SystemBusSocket = "/run/dbus/system_bus_socket";

    /// <summary>How long to wait before connecting again after the bus went away (doubling up to 30 s).</summary>
    internal static TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    private string Address => address ?? DBusAddress.System ?? "unix:path=" + SystemBusSocket;

    public string Name => "firewalld's Reloaded signal on D-Bus" + (address is null ? "" : $" ({address})");

    /// <summary>True when the host has a system bus to listen on (the service then watches firewalld's signal).</summary>
    public static bool SystemBusPresent() =>
        Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS") is { Length: > 0 } || File.Exists(SystemBusSocket);

    public async Task WatchAsync(Action<string> changed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changed);
        var delay = ReconnectDelay;
        var first = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            var lost = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var connection = new DBusConnection(Address);
            try
            {
                await connection.ConnectAsync().ConfigureAwait(false);
                using var watch = await connection.WatchSignalAsync(null, ObjectPath, Interface, Signal, notification =>
                {
                    if (notification.IsCompletion)
                    {
                        lost.TrySetResult(notification.CompletionReason);
                    }
                    else
                    {
                        changed("firewalld reloaded");
                    }
                }, ObserverFlags.EmitOnConnectionClosed | ObserverFlags.EmitOnConnectionFailed, emitOnCapturedContext: false).ConfigureAwait(false);
                if (!first)
                {
                    changed("the D-Bus connection is back (a reload may have been missed)");
                }
                first = false;
                delay = ReconnectDelay;
                using (cancellationToken.Register(() => lost.TrySetResult(null)))
                {
                    await lost.Task.ConfigureAwait(false);
                }
            }
            catch (Exception e) when (first && e is not OperationCanceledException)
            {
                throw new InvalidOperationException($"listening for firewalld's {Signal} signal on D-Bus ({Address}) failed: {e.Message}", e);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The bus went away after the watch had started: connect again below.
            }
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }
}
