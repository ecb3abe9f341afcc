using System.Collections.Immutable;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Host;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Store;

/// <summary>
/// The bindings applied in one network namespace: one file per port device, <c>&lt;portdev&gt;.xml</c>, holding libvirt's
/// <c>&lt;filterbinding&gt;</c> XML exactly (what <c>virsh nwfilter-binding-dumpxml</c> prints), under the state
/// directory: <c>bindings/</c> for the host's own namespace, <c>netns/&lt;name&gt;/bindings/</c> for a named one.
/// </summary>
/// <remarks>
/// Writes are atomic (temporary file and rename; no fsync: like libvirt's <c>/run/libvirt/nwfilter-binding</c> this is
/// runtime state, gone at reboot with the rules it describes). <see cref="Lock"/> serialises the writers of one
/// namespace: the binding manager holds it from reading the firewall to writing the files.
/// </remarks>
public sealed class BindingStore
{
    /// <summary>The folder under the state directory for bindings of the host's own namespace.</summary>
    public const string DirectoryName = "bindings";

    /// <summary>The folder under the state directory that holds one folder per named namespace.</summary>
    public const string NamespacesDirectoryName = "netns";

    /// <summary>A store over <paramref name="directory"/>, for the bindings of <paramref name="networkNamespace"/> (the host's own when null).</summary>
    public BindingStore(string directory, string? networkNamespace = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        NetworkNamespace = networkNamespace;
    }

    /// <summary>The store of <paramref name="networkNamespace"/> (null: the host's own) under <paramref name="location"/>.</summary>
    public static BindingStore Open(StoreLocation location, string? networkNamespace)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (networkNamespace is not null && !Host.NetworkNamespace.IsValidName(networkNamespace))
        {
            throw new NwFilterException(Diagnostic.Error(Apply.ApplyCodes.InvalidNetworkNamespace,
                $"'{networkNamespace}' is not a valid network namespace name.", DiagnosticCategory.InvalidArgument) with { Value = networkNamespace });
        }
        var directory = networkNamespace is null
            ? Path.Combine(location.StateDirectory, DirectoryName)
            : Path.Combine(location.StateDirectory, NamespacesDirectoryName, networkNamespace, DirectoryName);
        return new BindingStore(directory, networkNamespace);
    }

    /// <summary>The directory holding one XML file per binding.</summary>
    public string Directory { get; }

    /// <summary>The namespace these bindings are applied in; null for the host's own.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>The file of the binding on <paramref name="portDevice"/>.</summary>
    public string PathOf(string portDevice) => Path.Combine(Directory, portDevice + ".xml");

    /// <summary>The binding of a port device, or null.</summary>
    public FilterBinding? Get(string portDevice)
    {
        Backends.EbIpTables.ChainNames.ValidatePortDevice(portDevice);
        var path = PathOf(portDevice);
        return File.Exists(path) ? Read(path) : null;
    }

    /// <summary>Every stored binding, by port device; unreadable files are reported, not returned.</summary>
    public (ImmutableArray<FilterBinding> Bindings, ImmutableArray<Diagnostic> Problems) List()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return ([], []);
        }
        var bindings = new List<FilterBinding>();
        var problems = ImmutableArray.CreateBuilder<Diagnostic>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*.xml").Order(StringComparer.Ordinal))
        {
            if (AtomicFile.IsTempFile(Path.GetFileName(path)))
            {
                continue;
            }
            try
            {
                bindings.Add(Read(path));
            }
            catch (NwFilterException e)
            {
                problems.AddRange(e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
            }
        }
        return ([.. bindings.OrderBy(b => b.PortDevice, StringComparer.Ordinal)], problems.ToImmutable());
    }

    /// <summary>Writes (creates or replaces) a binding; a failure is <see cref="Apply.ApplyCodes.BindingStoreWriteFailed"/>.</summary>
    public void Save(FilterBinding binding) => SaveAll([binding]);

    /// <summary>
    /// Writes (creates or replaces) several bindings, all or none: every new file is written to a temporary file first;
    /// only when all are written are they renamed into place (a rename needs no space). A failure (a full or read-only
    /// state directory) removes the temporary files, leaves every binding as it was, and throws
    /// <see cref="Apply.ApplyCodes.BindingStoreWriteFailed"/> naming the file and the cause.
    /// </summary>
    public void SaveAll(IReadOnlyList<FilterBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        foreach (var binding in bindings)
        {
            Backends.EbIpTables.ChainNames.ValidatePortDevice(binding.PortDevice);
        }
        EnsureDirectory();
        var staged = new List<(string Temp, string Path)>(bindings.Count);
        var path = Directory;
        try
        {
            var texts = new List<string>(bindings.Count);
            foreach (var binding in bindings)
            {
                path = PathOf(binding.PortDevice);
                var text = NwFilterXmlWriter.Write(binding);
                texts.Add(text);
                staged.Add((AtomicFile.Stage(path, Utf8.GetBytes(text), durable: false), path));
            }
            Diagnostics.PhaseTimings.Mark("store: write temporary files");
            for (var i = 0; i < staged.Count; i++)
            {
                path = staged[i].Path;
                AtomicFile.Commit(staged[i].Temp, path, durable: false);
                staged[i] = (string.Empty, path);
            }
            Diagnostics.PhaseTimings.Mark("store: rename into place");
            for (var i = 0; i < staged.Count; i++)
            {
                Remember(staged[i].Path, texts[i]);
            }
            Diagnostics.PhaseTimings.Mark("store: cache what was written");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var (temp, _) in staged.Where(s => s.Temp.Length > 0))
            {
                AtomicFile.Discard(temp);
            }
            throw WriteFailed(path, "write the binding file", e);
        }
    }

    /// <summary>Deletes a binding's file; true when it existed. A failure is <see cref="Apply.ApplyCodes.BindingStoreWriteFailed"/>.</summary>
    public bool Delete(string portDevice)
    {
        Backends.EbIpTables.ChainNames.ValidatePortDevice(portDevice);
        var path = PathOf(portDevice);
        _parsed.TryRemove(path, out _);
        try
        {
            return AtomicFile.Delete(path, durable: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(path, "delete the binding file", e);
        }
    }

    /// <summary>
    /// The writers' lock of this namespace's bindings (held across firewall changes and file writes). On a read-only
    /// state directory whose lock file exists it is taken on a read-only handle (flock needs no write access), so the
    /// operation goes on to fail cleanly at its first write.
    /// </summary>
    public IDisposable Lock(TimeSpan timeout, CancellationToken cancellationToken)
    {
        EnsureDirectory();
        try
        {
            return StoreLock.Acquire(Directory, timeout, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(Path.Combine(Directory, StoreLock.FileName), "open the lock file", e);
        }
    }

    /// <summary>The port devices whose binding's top filter is <paramref name="filterName"/>.</summary>
    public IReadOnlyList<string> FindBindingsUsing(string filterName) =>
        [.. List().Bindings.Where(b => b.Filter == filterName).Select(b => b.PortDevice)];

    /// <summary>
    /// Parsed binding files by path, with the time and length they had: a file is parsed again only when either
    /// changed. As in the filter store's cache (FilterFileCache.SettleTime), a file read is kept only once it is older
    /// than the settle time, so two writes within one tick of the file system's clock cannot hide behind one time; a
    /// file this store wrote itself is kept at once (see <see cref="Remember"/>).
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (DateTime LastWriteUtc, long Length, FilterBinding Binding)> _parsed =
        new(StringComparer.Ordinal);

    private FilterBinding Read(string path)
    {
        DateTime lastWrite;
        long length;
        try
        {
            var info = new FileInfo(path);
            (lastWrite, length) = (info.LastWriteTimeUtc, info.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            (lastWrite, length) = (default, -1);
        }
        if (length >= 0 && _parsed.TryGetValue(path, out var cached) && cached.LastWriteUtc == lastWrite && cached.Length == length)
        {
            return cached.Binding;
        }
        _parsed.TryRemove(path, out _);
        var binding = Parse(path);
        if (length >= 0 && DateTime.UtcNow - lastWrite >= FilterFileCache.SettleTime)
        {
            _parsed[path] = (lastWrite, length, binding);
        }
        return binding;
    }

    /// <summary>
    /// Caches a file this store just wrote (under the store's lock, so no other NwFilter writer is between), read back as
    /// any reader would; a file that cannot be read back is simply not cached.
    /// </summary>
    /// <param name="path">The file just written.</param>
    /// <param name="text">What was written to it: parsed as a read of the file would be, without reading it back.</param>
    private void Remember(string path, string text)
    {
        _parsed.TryRemove(path, out _);
        try
        {
            var info = new FileInfo(path);
            _parsed[path] = (info.LastWriteTimeUtc, info.Length, Parse(path, text));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NwFilterException)
        {
            // Not cached: the next read parses it (and reports what is wrong with it).
        }
    }

    private static FilterBinding Parse(string path, string? text = null)
    {
        string xml;
        try
        {
            xml = text ?? DocumentFile.ReadText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NwFilterException(Diagnostic.Error(Apply.ApplyCodes.UnreadableBindingFile, $"Cannot read the binding file {path}: {e.Message}",
                DiagnosticCategory.ResourceUnavailable) with { Source = path }, e);
        }
        FilterBinding binding;
        try
        {
            binding = NwFilterXmlReader.ReadBinding(xml, new XmlReadOptions { SourceName = path }).Value;
        }
        catch (NwFilterException e)
        {
            throw new NwFilterException(e.Diagnostics.Select(d => d with { Code = Apply.ApplyCodes.UnreadableBindingFile, Message = $"binding file: {d.Message}" }), e);
        }
        var expected = Path.GetFileNameWithoutExtension(path);
        if (binding.PortDevice != expected)
        {
            throw new NwFilterException(Diagnostic.Error(Apply.ApplyCodes.UnreadableBindingFile,
                $"The binding file {path} is for port device '{binding.PortDevice}', not '{expected}'.") with { Source = path });
        }
        return binding;
    }

    private static readonly System.Text.UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private void EnsureDirectory()
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(Directory, "create the binding directory", e);
        }
    }

    private static NwFilterException WriteFailed(string path, string what, Exception e) =>
        new(Diagnostic.Error(Apply.ApplyCodes.BindingStoreWriteFailed,
            $"Cannot {what} {path}: {e.Message}",
            e is UnauthorizedAccessException ? DiagnosticCategory.PermissionDenied : DiagnosticCategory.ResourceUnavailable) with { Source = path }, e);
}

/// <summary>
/// Which bindings use a filter, over every namespace's bindings under the state directory (resolved on each call, so
/// <c>NWFILTER_STATE_DIR</c> may change between calls). The filter store asks it before removing a filter.
/// </summary>
internal sealed class StateDirectoryBindingUsage : IBindingUsage
{
    private readonly Func<StoreLocation> _location;

    public StateDirectoryBindingUsage(Func<StoreLocation>? location = null) => _location = location ?? StoreLocation.Resolve;

    public IReadOnlyList<string> FindBindingsUsing(string filterName)
    {
        var state = _location().StateDirectory;
        var result = new List<string>(BindingStore.Open(_location(), null).FindBindingsUsing(filterName));
        var namespaces = Path.Combine(state, BindingStore.NamespacesDirectoryName);
        if (System.IO.Directory.Exists(namespaces))
        {
            foreach (var dir in System.IO.Directory.EnumerateDirectories(namespaces).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(dir);
                if (NetworkNamespace.IsValidName(name))
                {
                    result.AddRange(BindingStore.Open(_location(), name).FindBindingsUsing(filterName).Select(p => $"{p} (network namespace {name})"));
                }
            }
        }
        return result;
    }
}
