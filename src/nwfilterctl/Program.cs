using System.ComponentModel;
using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using NwFilter.Core.DesiredState;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Runtime;
using NwFilter.Core.Runtime.Control;
using NwFilter.Core.Store;

namespace NwFilter.Ctl;

/// <summary>
/// nwfilterctl: the entry of the DSC v3 resources and the Ansible modules that starts no PowerShell when nwfilterd runs
/// (docs/design/state.md, "Through nwfilterd"). <c>nwfilterctl dsc RESOURCE OPERATION [-WhatIf]</c> takes the
/// instance's JSON on stdin as <c>nwfilter.dsc.ps1</c> does and sends it over nwfilterd's control socket, where the
/// runtime runs it; its JSON lines, error lines and exit code are the entry script's. When nwfilterd does not answer
/// for this store (NWFILTER_DAEMON=auto, the default) or NWFILTER_DAEMON=inprocess, it runs the module's pwsh entry
/// instead, unchanged: <c>$NWFILTER_PWSH</c> (default <c>pwsh</c>) <c>-File nwfilter.dsc.ps1 ...</c> with the same stdin.
/// </summary>
public static class Program
{
    /// <summary>The environment variable naming the PowerShell to fall back to (default <c>pwsh</c> on PATH).</summary>
    public const string PwshVariable = "NWFILTER_PWSH";

    /// <summary>The environment variable naming the pwsh entry script (default: <c>nwfilter.dsc.ps1</c> of the module folder above this program).</summary>
    public const string EntryVariable = "NWFILTER_DSC_ENTRY";

    private const string Usage = """
        usage: nwfilterctl dsc <filter|binding|state> <get|test|set|delete|export> [-WhatIf]
          The instance's JSON on stdin (not for export). Through nwfilterd's control socket when it answers for this
          store (NWFILTER_DAEMON=auto|daemon|inprocess, NWFILTER_DAEMON_SOCKET, NWFILTER_CONFIG_DIR,
          NWFILTER_STATE_DIR, NWFILTER_NETNS), else through the module's pwsh entry nwfilter.dsc.ps1 ($NWFILTER_PWSH).
          Output: one JSON object a line; errors {"error": ...} on stderr; exit 0, 1 (the change failed), 2 (invalid input).
        """;

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Runs one command; the exit code is the entry's.</summary>
    public static int Main(string[] args)
    {
        if (args.Length is 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.Write(Usage.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
            return args.Length == 0 ? StateResources.ExitInvalidInput : 0;
        }
        if (args[0] != "dsc" || args.Length is < 3 or > 4 || (args.Length == 4 && !args[3].Equals("-WhatIf", StringComparison.OrdinalIgnoreCase)))
        {
            return Error($"Unknown command line '{string.Join(' ', args)}'. {Usage.Split('\n')[0].Trim()}", StateResources.ExitInvalidInput);
        }
        var resource = args[1];
        var operation = args[2];
        var whatIf = args.Length == 4;
        if (!StateResources.IsOperation(resource, operation))
        {
            return Error($"Unknown resource operation '{resource} {operation}'.", StateResources.ExitInvalidInput);
        }
        // export takes no instance (dsc gives it no stdin, which may then be the caller's terminal).
        var input = operation.Equals("export", StringComparison.OrdinalIgnoreCase) ? null : Console.In.ReadToEnd();

        ControlClient? client;
        try
        {
            client = ControlClient.Choose(StoreLocation.Resolve(), ControlClient.ModeFromEnvironment(), ControlClient.SocketFromEnvironment());
        }
        catch (NwFilterException e)
        {
            return Error(e.Message, StateResources.ExitFailed);
        }
        if (client is null)
        {
            return RunPwsh(resource, operation, whatIf, input);
        }
        using (client)
        {
            StateResourceResponse response;
            try
            {
                var ns = Environment.GetEnvironmentVariable("NWFILTER_NETNS") is { Length: > 0 } n ? n : null;
                response = client.SendAsync<StateResourceResponse>(new StateResourceRequest(resource, operation, input, whatIf, ns), SilentRuntimeHost.Instance)
                    .GetAwaiter().GetResult();
            }
            catch (NwFilterException e)
            {
                return Error(e.Message, StateResources.ExitFailed);
            }
            var stdout = Console.Out;
            foreach (var line in response.Output)
            {
                stdout.Write(line + "\n");
            }
            stdout.Flush();
            foreach (var warning in response.Warnings)
            {
                Trace("warn", warning);
            }
            foreach (var error in response.Errors)
            {
                Trace("error", error);
            }
            return response.ExitCode;
        }
    }

    /// <summary>Without nwfilterd: the module's pwsh entry, unchanged, with the same arguments and stdin; its exit code.</summary>
    private static int RunPwsh(string resource, string operation, bool whatIf, string? input)
    {
        var entry = Environment.GetEnvironmentVariable(EntryVariable) is { Length: > 0 } e ? e : FindEntry();
        if (entry is null)
        {
            return Error($"nwfilterd does not answer for this store, and the module's entry nwfilter.dsc.ps1 is not beside {AppContext.BaseDirectory} (set {EntryVariable}).", StateResources.ExitFailed);
        }
        var pwsh = Environment.GetEnvironmentVariable(PwshVariable) is { Length: > 0 } p ? p : "pwsh";
        var start = new ProcessStartInfo(pwsh) { UseShellExecute = false, RedirectStandardInput = true };
        foreach (var a in new[] { "-NoLogo", "-NonInteractive", "-NoProfile", "-File", entry, resource, operation })
        {
            start.ArgumentList.Add(a);
        }
        if (whatIf)
        {
            start.ArgumentList.Add("-WhatIf");
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("no process");
        }
        catch (Win32Exception x)
        {
            return Error($"nwfilterd does not answer for this store, and PowerShell ('{pwsh}') could not be started for {entry}: {x.Message}", StateResources.ExitFailed);
        }
        using (process)
        {
            try
            {
                if (!string.IsNullOrEmpty(input))
                {
                    process.StandardInput.Write(input);
                }
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // pwsh left before reading its input: its exit code and stderr say why.
            }
            process.WaitForExit();
            return process.ExitCode;
        }
    }

    /// <summary>nwfilter.dsc.ps1 of the module folder: this program lives in its nwfilterd/ (or in out/nwfilterd beside out/NwFilter).</summary>
    private static string? FindEntry()
    {
        var here = AppContext.BaseDirectory;
        foreach (var candidate in new[] { Path.Combine(here, "..", "nwfilter.dsc.ps1"), Path.Combine(here, "..", "NwFilter", "nwfilter.dsc.ps1") })
        {
            if (File.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }
        return null;
    }

    private static void Trace(string level, string message) =>
        Console.Error.Write(new JsonObject { [level] = message }.ToJsonString(Compact) + "\n");

    private static int Error(string message, int exitCode)
    {
        Trace("error", message);
        return exitCode;
    }
}
