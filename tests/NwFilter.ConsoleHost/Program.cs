using NwFilter.ConsoleHost;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;

// nwfilter-console: drives bindings through NwFilterRuntime's request records, as a daemon would.
//   [--netns NAME] [--what-if] apply PORT MAC FILTER [NAME=VALUE ...] [--backend EbIpTables|Nftables]
//   [--netns NAME] status [PORT ...]       one line per binding: PORT FILTER STATUS (drift against the firewall)
//   [--netns NAME] [--what-if] remove PORT ...
// The store location comes from the environment (NWFILTER_CONFIG_DIR, NWFILTER_STATE_DIR), as for the module.
// Exit code: 0 success, 1 an item failed, 2 bad usage.
var arguments = args.ToList();
string? ns = Take(arguments, "--netns");
var whatIf = arguments.Remove("--what-if");
var backend = Take(arguments, "--backend") is { } b ? Enum.Parse<FirewallBackendKind>(b, ignoreCase: true) : FirewallBackendKind.EbIpTables;
if (arguments.Count == 0)
{
    return Usage();
}
await using var runtime = new NwFilterRuntime(new NwFilterRuntimeOptions { DefaultNamespace = ns });
var host = new ConsoleRuntimeHost(Console.Error, whatIf);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
try
{
    switch (arguments[0])
    {
        case "apply" when arguments.Count >= 4:
            if (!MacAddressText.TryParse(arguments[2], out var mac))
            {
                return Usage();
            }
            var binding = Bindings.Create(arguments[1], mac, arguments[3], ParameterSet.FromPairs(arguments.Skip(4).Select(Pair)), backend: backend);
            return Exit((await runtime.HandleAsync(new ApplyBindingsRequest([binding]), host, stop.Token)).Succeeded);
        case "remove" when arguments.Count >= 2:
            return Exit((await runtime.HandleAsync(new RemoveBindingsRequest([.. arguments.Skip(1)]), host, stop.Token)).Succeeded);
        case "status":
            var ports = arguments.Count > 1 ? arguments.Skip(1).ToList() : null;
            var status = await runtime.HandleAsync(new BindingStatusRequest(ports, TestDrift: true), host, stop.Token);
            foreach (var problem in status.Problems)
            {
                host.Report(new RuntimeEvent(RuntimeEventLevel.Error, problem.Code, problem.Message));
            }
            foreach (var drift in status.Drift)
            {
                Console.WriteLine($"{drift.PortDevice} {drift.Filter ?? "-"} {drift.Status}");
            }
            return Exit(status.Problems.All(p => p.Severity != DiagnosticSeverity.Error));
        default:
            return Usage();
    }
}
catch (NwFilterException e)
{
    host.Report(RuntimeEvent.Failed(e, null));
    return 1;
}

static int Exit(bool succeeded) => succeeded ? 0 : 1;

static int Usage()
{
    Console.Error.WriteLine("usage: nwfilter-console [--netns NAME] [--what-if] apply PORT MAC FILTER [NAME=VALUE ...] [--backend EbIpTables|Nftables]");
    Console.Error.WriteLine("       nwfilter-console [--netns NAME] status [PORT ...]");
    Console.Error.WriteLine("       nwfilter-console [--netns NAME] [--what-if] remove PORT ...");
    return 2;
}

static string? Take(List<string> arguments, string option)
{
    var i = arguments.IndexOf(option);
    if (i < 0 || i + 1 >= arguments.Count)
    {
        return null;
    }
    var value = arguments[i + 1];
    arguments.RemoveRange(i, 2);
    return value;
}

static KeyValuePair<string, string> Pair(string text)
{
    var i = text.IndexOf('=', StringComparison.Ordinal);
    return i <= 0 ? throw new NwFilterException(Diagnostic.Error("InvalidParameter", $"'{text}' is not NAME=VALUE.", DiagnosticCategory.InvalidArgument))
        : new(text[..i], text[(i + 1)..]);
}
