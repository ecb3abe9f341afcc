using System.Collections.Concurrent;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// The module's runtimes: one <see cref="NwFilterRuntime"/> per store location, for the life of the process.
/// </summary>
/// <remarks>
/// Why per store location and process-wide rather than per runspace: a runtime owns the learners, and a learner holds
/// a capture on a kernel port device, which every runspace of the process shares (Start-ThreadJob, a runspace pool);
/// two runspaces binding the same port must find the same learner, as they did when the registries were per lease
/// folder. The location is resolved on every command (NWFILTER_CONFIG_DIR and NWFILTER_STATE_DIR may change between
/// commands), so a command always drives the runtime of the store it names. Everything host-specific (the cmdlet, its
/// streams, -WhatIf) is a <see cref="PowerShellRuntimeHost"/> made per command and passed with each request; the
/// runtime itself keeps no PowerShell state. This is the module's only process-wide state besides the learning jobs.
/// </remarks>
internal static class RuntimeSessions
{
    private static readonly ConcurrentDictionary<StoreLocation, NwFilterRuntime> Runtimes = new();

    /// <summary>The runtime of the store location the environment names now.</summary>
    public static NwFilterRuntime Current => For(StoreLocation.Resolve());

    /// <summary>The runtime of <paramref name="location"/> (made on first use).</summary>
    public static NwFilterRuntime For(StoreLocation location) =>
        Runtimes.GetOrAdd(location, l => new NwFilterRuntime(new NwFilterRuntimeOptions { Location = l }));
}
