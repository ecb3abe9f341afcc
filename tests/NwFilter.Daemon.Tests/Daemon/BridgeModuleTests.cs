using System.Text;
using System.Text.RegularExpressions;
using NwFilter.Core.Host;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Daemon.Tests.Daemon;

/// <summary>
/// The forwarding module (out/libvirt/libvirt_driver_nwfilter.so) refuses a libvirt it was not built for. It is loaded
/// (python3's ctypes: dlopen, then nwfilterRegister as libvirtd calls it) against stand-in libvirt.so.0 libraries built
/// here from the module's own list of imported symbols: one exporting them under the symbol versions the module
/// needs (the positive control: it registers), one of another release's private version (the loader refuses), one
/// with the right versions that reports another release (nwfilterRegister refuses, naming both releases).
/// </summary>
public sealed partial class BridgeModuleTests
{
    private static readonly string Module = Path.Combine(RepositoryRoot(), "out", "libvirt", "libvirt_driver_nwfilter.so");

    [SkippableFact]
    public async Task The_module_exports_only_its_registration_and_needs_the_private_symbol_version_of_its_release()
    {
        Require();
        var dynamic = await Run("objdump", "-T", Module);
        var exported = dynamic.StandardOutput.Split('\n').Where(l => l.Contains(" g ") && l.Contains(".text")).ToList();
        Assert.Equal("nwfilterRegister", Assert.Single(exported).Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]);
        var release = (await Run("pkg-config", "--modversion", "libvirt")).StandardOutput.Trim();
        Assert.Contains($"(LIBVIRT_PRIVATE_{release}) virGetNWFilterBinding", dynamic.StandardOutput);
        Assert.Contains($"(LIBVIRT_PRIVATE_{release}) virRegisterConnectDriver", dynamic.StandardOutput);
    }

    [SkippableFact]
    public async Task Loaded_against_its_release_it_registers_against_another_release_it_is_refused()
    {
        Require();
        var release = (await Run("pkg-config", "--modversion", "libvirt")).StandardOutput.Trim();
        var number = release.Split('.').Select(int.Parse).Aggregate(0, (a, p) => a * 1000 + p);
        var imports = await ImportsAsync();
        using var dir = new TempDirectory("nwfilter-bridge-stub");

        // positive control: the versions the module was linked against, the release it was built for
        var same = await LoadAsync(dir, "same", imports, number, v => v);
        Assert.True(same.ExitCode == 0, same.StandardOutput + same.StandardError);
        Assert.Contains("registered connect driver", same.StandardError);
        Assert.Contains("RC 0", same.StandardOutput);

        // another release's private symbol version: the dynamic loader refuses the module before any of its code runs
        var other = await LoadAsync(dir, "other-version", imports, number, v => v.StartsWith("LIBVIRT_PRIVATE_", StringComparison.Ordinal) ? "LIBVIRT_PRIVATE_99.0.0" : v);
        Assert.Equal(3, other.ExitCode);
        Assert.Contains($"version `LIBVIRT_PRIVATE_{release}' not found", other.StandardOutput);
        Assert.DoesNotContain("registered", other.StandardError);

        // same symbol versions, another release number: nwfilterRegister refuses and registers nothing
        var newer = await LoadAsync(dir, "other-release", imports, number + 1, v => v);
        Assert.Contains("RC -1", newer.StandardOutput);
        Assert.Contains($"built for libvirt {release}", newer.StandardError);
        Assert.Contains("rebuild it against this libvirt", newer.StandardError);
        Assert.DoesNotContain("registered", newer.StandardError);
    }

    private static void Require()
    {
        foreach (var tool in new[] { "gcc", "objdump", "python3", "pkg-config" })
        {
            Requirement.Program(tool);
        }
        Requirement.Require("tools", File.Exists(Module), $"the forwarding module is not built ({Module}: build.ps1 -Task Bridge)");
    }

    /// <summary>The module's libvirt imports: symbol version to names (objdump -T).</summary>
    private static async Task<Dictionary<string, List<string>>> ImportsAsync()
    {
        var map = new Dictionary<string, List<string>>();
        foreach (Match m in Undefined().Matches((await Run("objdump", "-T", Module)).StandardOutput))
        {
            var list = map.TryGetValue(m.Groups[1].Value, out var l) ? l : map[m.Groups[1].Value] = [];
            list.Add(m.Groups[2].Value);
        }
        Assert.True(map.Count > 1, "the module imports libvirt symbols of several versions");
        return map;
    }

    /// <summary>A stand-in libvirt.so.0 (versions renamed by <paramref name="version"/>), then the module loaded and registered.</summary>
    private static async Task<ProcessResult> LoadAsync(TempDirectory dir, string name, Dictionary<string, List<string>> imports, int reports, Func<string, string> version)
    {
        var lib = Directory.CreateDirectory(dir.Combine(name)).FullName;
        var c = new StringBuilder("#include <stdarg.h>\n#include <stdio.h>\n#include <stddef.h>\n");
        var map = new StringBuilder();
        foreach (var (v, symbols) in imports)
        {
            map.Append(version(v)).Append(" { global: ").Append(string.Join("; ", symbols)).Append("; };\n");
            foreach (var s in symbols)
            {
                c.Append(s switch
                {
                    "virGetVersion" => $"int virGetVersion(unsigned long *l, const char *t, unsigned long *h) {{ (void)t; (void)h; if (l) *l = {reports}; return 0; }}\n",
                    "virReportErrorHelper" => "void virReportErrorHelper(int d, int e, const char *f, const char *fn, size_t n, const char *fmt, ...) { va_list ap; (void)d; (void)e; (void)f; (void)fn; (void)n; va_start(ap, fmt); vfprintf(stderr, fmt, ap); va_end(ap); fputc('\\n', stderr); }\n",
                    "virRegisterConnectDriver" => "int virRegisterConnectDriver(void *d, _Bool s) { (void)d; (void)s; fputs(\"registered connect driver\\n\", stderr); return 0; }\n",
                    _ => $"long {s}(void) {{ return 0; }}\n",
                });
            }
        }
        await File.WriteAllTextAsync(Path.Combine(lib, "stub.c"), c.ToString());
        await File.WriteAllTextAsync(Path.Combine(lib, "stub.map"), map.ToString());
        (await Run("gcc", "-shared", "-fPIC", "-o", Path.Combine(lib, "libvirt.so.0"), "-Wl,-soname,libvirt.so.0",
            $"-Wl,--version-script={Path.Combine(lib, "stub.map")}", Path.Combine(lib, "stub.c"))).EnsureSuccess();
        const string load = "import ctypes, sys\ntry:\n    m = ctypes.CDLL(sys.argv[1])\nexcept OSError as e:\n    print('LOAD-ERROR', e); sys.exit(3)\nprint('RC', m.nwfilterRegister())\n";
        return await Run("env", $"LD_LIBRARY_PATH={lib}", "python3", "-c", load, Module);
    }

    private static Task<ProcessResult> Run(string program, params string[] args) =>
        ProcessRunner.Default.RunAsync(new ProcessRequest(program, args) { Timeout = TimeSpan.FromSeconds(60) });

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "NwFilter.sln")))
            {
                return d.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }

    [GeneratedRegex(@"\*UND\*\s+\S+\s+\((LIBVIRT_[^)]+)\)\s+(\w+)")]
    private static partial Regex Undefined();
}
