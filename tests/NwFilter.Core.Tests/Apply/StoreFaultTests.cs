using System.Diagnostics;
using System.Security.Cryptography;
using NwFilter.Core.Apply;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;

namespace NwFilter.Core.Tests.Apply;

/// <summary>
/// The binding store on a full (64 KiB tmpfs) or a read-only (bind mount) file system, on both backends: a create and
/// an update fail with <see cref="ApplyCodes.BindingStoreWriteFailed"/> naming the file and the cause, no temporary
/// or zero-length file is left, the kernel is unchanged, and a following Restore keeps the port filtered by what the
/// store says (before the fix the new rules stayed unrecorded and Restore removed them as orphans).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class StoreFaultTests
{
    [SkippableTheory]
    [InlineData(FirewallBackendKind.EbIpTables)]
    [InlineData(FirewallBackendKind.Nftables)]
    public void AFullStateDirectoryRefusesTheChangeAndLeavesKernelAndStoreAsTheyWere(FirewallBackendKind backend)
    {
        using var lab = BindingLab.Create(2, backend);
        using var mount = Mount.Tmpfs(64);
        var store = new BindingStore(Path.Combine(mount.Path, "bindings"), lab.Lab.HostNamespace);
        var manager = Manager(lab, store);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Assert.True(Apply(manager, backend, BindingLab.CleanTraffic(vm0)).Items[0].Succeeded);
        Fill(mount.Path);

        var kernel = Kernel(lab);
        var files = Files(store.Directory);
        var result = Apply(manager, backend, BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4)), BindingLab.CleanTraffic(vm1));

        foreach (var item in result.Items)
        {
            Assert.False(item.Succeeded, item.PortDevice);
            Assert.Equal(ApplyCodes.BindingStoreWriteFailed, item.Error!.Primary.Code);
            Assert.Contains("No space left on device", item.Error.Message, StringComparison.Ordinal);
            Assert.Contains(store.Directory, item.Error.Message, StringComparison.Ordinal);
        }
        Assert.Equal(kernel, Kernel(lab));
        Assert.Equal(files, Files(store.Directory));

        // Restore on the still full disk rewrites nothing and keeps vm0 filtered by clean-traffic.
        var restore = manager.RestoreAsync().GetAwaiter().GetResult();
        Assert.All(restore.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        Assert.Equal(Sorted(kernel), Sorted(Kernel(lab)));
        Assert.Equal("clean-traffic", store.Get(vm0.PortDevice)!.Filter);
        Assert.Null(store.Get(vm1.PortDevice));
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "clean-traffic lets TCP 8080 in");
    }

    [SkippableTheory]
    [InlineData(FirewallBackendKind.EbIpTables)]
    [InlineData(FirewallBackendKind.Nftables)]
    public void AReadOnlyStateDirectoryRefusesCreateUpdateAndRemoveWithoutTouchingTheKernel(FirewallBackendKind backend)
    {
        using var lab = BindingLab.Create(2, backend);
        using var state = new TempDirectory("nwfilter-rostore");
        var writable = new BindingStore(state.Combine("rw", "bindings"), lab.Lab.HostNamespace);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        Assert.True(Apply(Manager(lab, writable), backend, BindingLab.CleanTraffic(vm0)).Items[0].Succeeded);
        using var mount = Mount.ReadOnlyBind(state.Combine("rw"), state.Combine("ro"));
        var store = new BindingStore(Path.Combine(mount.Path, "bindings"), lab.Lab.HostNamespace);
        var manager = Manager(lab, store);

        var kernel = Kernel(lab);
        var files = Files(store.Directory);
        var result = Apply(manager, backend, BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4)), BindingLab.CleanTraffic(vm1));
        var removal = manager.RemoveAsync([vm0.PortDevice]).GetAwaiter().GetResult();

        foreach (var item in result.Items.Concat(removal.Items))
        {
            Assert.False(item.Succeeded, item.PortDevice);
            Assert.Equal(ApplyCodes.BindingStoreWriteFailed, item.Error!.Primary.Code);
            Assert.Contains("Read-only file system", item.Error.Message, StringComparison.Ordinal);
            Assert.Contains(store.Directory, item.Error.Message, StringComparison.Ordinal);
        }
        Assert.Equal(kernel, Kernel(lab));
        Assert.Equal(files, Files(store.Directory));

        var restore = manager.RestoreAsync().GetAwaiter().GetResult();
        Assert.All(restore.Items, i => Assert.True(i.Succeeded, i.Error?.Message));
        Assert.Equal(Sorted(kernel), Sorted(Kernel(lab)));
        Assert.True(lab.Lab.TcpConnect(vm1.Namespace, vm0.Namespace, vm0.IPv4, 8080), "clean-traffic lets TCP 8080 in");
    }

    [SkippableFact]
    public void AFirewallFailureAfterTheFilesWereWrittenPutsThemBack()
    {
        using var lab = BindingLab.Create(2);
        var (vm0, vm1) = (lab.Vms[0], lab.Vms[1]);
        lab.Apply(BindingLab.CleanTraffic(vm0));
        var files = Files(lab.Store.Directory);
        var kernel = lab.Save();
        lab.NewManager(inner => new FaultyRunner(inner, (_, request) => request.Program.EndsWith("nft", StringComparison.Ordinal) ? Fault.Fail : Fault.None));
        var result = lab.Manager.ApplyAsync([BindingLab.Binding(vm0, "test-eth0", ("IP", vm0.IPv4)), BindingLab.CleanTraffic(vm1)]).GetAwaiter().GetResult();
        Assert.All(result.Items, i => Assert.False(i.Succeeded, i.PortDevice));
        Assert.Equal(files, Files(lab.Store.Directory));
        Assert.Equal(kernel, lab.Save());
    }

    private static BindingManager Manager(BindingLab lab, BindingStore store) =>
        new(new BindingManagerOptions { NetworkNamespace = lab.Lab.HostNamespace, HostRunner = lab.Lab.HostRunner, Filters = lab.Filters, Store = store });

    private static BindingBatchResult Apply(BindingManager manager, FirewallBackendKind backend, params FilterBinding[] bindings) =>
        manager.ApplyAsync([.. bindings.Select(b => b with { Backend = backend })]).GetAwaiter().GetResult();

    /// <summary>Every table of the lab's host namespace (xtables-nft and NwFilter's own), as nft lists them.</summary>
    private static string Kernel(BindingLab lab) =>
        System.Text.RegularExpressions.Regex.Replace(lab.Lab.RunInHostChecked("nft", "list", "ruleset").StandardOutput, @"counter packets \d+ bytes \d+", "counter");

    /// <summary>
    /// The same lines in order, with the nftables chains' generation numbers (port/id/generation/role) blanked: a re-apply
    /// (Restore) recreates chains, which then list in another order, and on nftables as the next generation.
    /// </summary>
    private static string Sorted(string kernel) =>
        string.Join("\n", kernel.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Replace(l.Trim(), @"/(\d+)/\d+/", "/$1/G/")).Order(StringComparer.Ordinal));

    /// <summary>Each file of the directory (temporary ones included) with the SHA-256 of its content.</summary>
    private static string Files(string directory) =>
        string.Join("\n", Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetFileName(f)} {new FileInfo(f).Length} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))}"));

    /// <summary>Writes a filler file until the file system is full.</summary>
    private static void Fill(string directory)
    {
        using var filler = new FileStream(Path.Combine(directory, "filler"), FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        var block = new byte[1024];
        try
        {
            while (true)
            {
                filler.Write(block);
                filler.Flush();
            }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A mount made for one test (tmpfs or a read-only bind) on a fresh directory, unmounted on dispose.</summary>
    private sealed class Mount : IDisposable
    {
        private readonly TempDirectory? _directory;

        private Mount(string path, TempDirectory? directory)
        {
            Path = path;
            _directory = directory;
        }

        public string Path { get; }

        public static Mount Tmpfs(int kib)
        {
            Skip.IfNot(Environment.UserName == "root", "mounting a tmpfs needs root");
            var directory = new TempDirectory("nwfilter-tmpfs");
            Run("mount", "-t", "tmpfs", "-o", $"size={kib}k", "tmpfs", directory.Path);
            return new Mount(directory.Path, directory);
        }

        public static Mount ReadOnlyBind(string source, string target)
        {
            Skip.IfNot(Environment.UserName == "root", "a bind mount needs root");
            Directory.CreateDirectory(target);
            Run("mount", "--bind", source, target);
            Run("mount", "-o", "remount,ro,bind", target);
            return new Mount(target, null);
        }

        public void Dispose()
        {
            Run("umount", "-l", Path);
            _directory?.Dispose();
        }

        private static void Run(string program, params string[] arguments)
        {
            using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)}: {error}");
        }
    }
}
