using System.Collections.Immutable;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Store;

/// <summary>How a <see cref="FilterStore"/> behaves.</summary>
public sealed record FilterStoreOptions
{
    /// <summary>The defaults: no binding usage check and a 30-second lock timeout.</summary>
    public static FilterStoreOptions Default { get; } = new();

    /// <summary>Which bindings use a filter; removing a filter a binding needs is refused.</summary>
    public IBindingUsage BindingUsage { get; init; } = NoBindingUsage.Instance;

    /// <summary>How long a writer waits for another writer's lock.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The filter store: a directory with one file per filter, <c>&lt;name&gt;.xml</c>, holding its canonical XML (the
/// layout of libvirt's <c>/etc/libvirt/nwfilter</c>), plus NwFilter's <see cref="BuiltInFilters"/>.
/// </summary>
/// <remarks>
/// <para>Writes are atomic (a temporary file in the same directory, fsync, rename) and serialised between processes
/// by the lock file <c>.lock</c>; reads take no lock and never see a torn file.</para>
/// <para>Define follows libvirt: a missing uuid is generated, or kept when the name exists; a uuid that belongs to
/// another name is refused, and so is a name that exists with another uuid; a define that would close a loop of
/// filter references is refused with the loop spelled out; a reference to a filter that does not exist is accepted
/// with a warning.</para>
/// <para>Built-in filters are ordinary filters that need no file: a stored filter with a built-in's name shadows
/// it (keeping the built-in's uuid unless told otherwise), and removing it makes the built-in visible again. A
/// built-in that is not redefined cannot be removed.</para>
/// <para>Files are parsed once and cached by (path, last write time, length), so listing a large store is cheap.
/// A file that does not parse, or whose name does not match the filter inside, is left out of listings and reported
/// in <see cref="FilterListing.Problems"/>.</para>
/// </remarks>
public sealed class FilterStore : IFilterSource
{
    private const int ParallelThreshold = 32;

    /// <summary>Opens the store in <paramref name="directory"/> (created on the first write).</summary>
    public FilterStore(string directory, FilterStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        Options = options ?? FilterStoreOptions.Default;
    }

    /// <summary>Opens the store of the current user (<see cref="StoreLocation.Resolve()"/>).</summary>
    public static FilterStore Open(FilterStoreOptions? options = null) => new(StoreLocation.Resolve().FilterDirectory, options);

    /// <summary>The directory holding the filter files.</summary>
    public string Directory { get; }

    /// <summary>What the store was created with.</summary>
    public FilterStoreOptions Options { get; }

    /// <summary>The uuid a filter gets when its stored file (or a built-in) has none: derived from its name.</summary>
    public static Guid DefaultUuid(string name) => BuiltInFilters.DefaultUuid(name);

    /// <summary>The path of the file that holds (or would hold) the filter <paramref name="name"/>.</summary>
    public string PathOf(string name) => Path.Combine(Directory, FilterNames.FileName(name));

    /// <inheritdoc cref="IFilterSource.Find"/>
    /// <exception cref="NwFilterException">The filter's file exists but cannot be read.</exception>
    public FilterDefinition? Find(string name) => Get(name)?.Definition;

    /// <summary>The filter called <paramref name="name"/> (stored, else built-in), or null; null for an invalid name.</summary>
    /// <exception cref="NwFilterException">The filter's file exists but cannot be read.</exception>
    public StoredFilter? Get(string name)
    {
        if (!FilterNames.IsValid(name))
        {
            return null;
        }
        var path = PathOf(name);
        var entry = FilterFileCache.Read(path, name);
        if (entry is not null)
        {
            if (entry.Filter is null)
            {
                throw new NwFilterException(entry.Problems);
            }
            return new StoredFilter(entry.Filter, BuiltInFilters.Contains(name) ? FilterOrigin.Redefined : FilterOrigin.Defined, path);
        }
        return BuiltInFilters.Find(name) is { } builtIn ? new StoredFilter(builtIn, FilterOrigin.BuiltIn, null) : null;
    }

    /// <summary>The filter with <paramref name="uuid"/>, or null.</summary>
    public StoredFilter? FindByUuid(Guid uuid) => List().Filters.FirstOrDefault(f => f.Uuid == uuid);

    /// <summary>True when a filter called <paramref name="name"/> exists (stored or built-in).</summary>
    public bool Exists(string name) =>
        FilterNames.IsValid(name) && (File.Exists(PathOf(name)) || BuiltInFilters.Contains(name));

    /// <summary>Every filter, stored and built-in, sorted by name; unreadable files are reported, not thrown.</summary>
    public FilterListing List()
    {
        var files = EnumerateFilterFiles();
        var entries = new FilterFileCache.Entry?[files.Count];
        var misses = new List<(int Index, DateTime LastWrite, long Length)>();
        for (var i = 0; i < files.Count; i++)
        {
            entries[i] = FilterFileCache.Lookup(files[i].Info, out var lastWrite, out var length);
            if (entries[i] is null && length >= 0)
            {
                misses.Add((i, lastWrite, length));
            }
        }
        void Load((int Index, DateTime LastWrite, long Length) m) =>
            entries[m.Index] = FilterFileCache.Load(files[m.Index].Info.FullName, files[m.Index].Name, m.LastWrite, m.Length);
        if (misses.Count >= ParallelThreshold)
        {
            Parallel.ForEach(misses, Load);
        }
        else
        {
            misses.ForEach(Load);
        }
        FilterFileCache.Prune(Directory, files.Select(f => f.Info.Name).ToHashSet(StringComparer.Ordinal));

        var filters = new List<StoredFilter>(files.Count + BuiltInFilters.Names.Length);
        var present = new HashSet<string>(files.Count, StringComparer.Ordinal);
        var problems = ImmutableArray.CreateBuilder<Diagnostic>();
        for (var i = 0; i < files.Count; i++)
        {
            var name = files[i].Name;
            if (entries[i] is not { } entry)
            {
                continue;
            }
            present.Add(name);
            if (entry.Filter is { } filter)
            {
                filters.Add(new StoredFilter(filter, BuiltInFilters.Contains(name) ? FilterOrigin.Redefined : FilterOrigin.Defined, files[i].Info.FullName));
            }
            else
            {
                problems.AddRange(entry.Problems);
            }
        }
        // A built-in is hidden by a file of its name, even an unreadable one (whose problem is reported).
        foreach (var builtIn in BuiltInFilters.All)
        {
            if (!present.Contains(builtIn.Name))
            {
                filters.Add(new StoredFilter(builtIn, FilterOrigin.BuiltIn, null));
            }
        }
        filters.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new FilterListing([.. filters], problems.ToImmutable());
    }

    /// <summary>
    /// Defines (creates or replaces) a filter. Throws <see cref="NwFilterException"/> for an invalid name, a uuid
    /// conflict or a loop; returns warnings for references to filters that do not exist.
    /// </summary>
    public DefineResult Define(FilterDefinition filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        RequireName(filter.Name);
        EnsureDirectory();
        using var _ = StoreLock.Acquire(Directory, Options.LockTimeout, cancellationToken);
        return DefineLocked(filter, new View(this), pending: null);
    }

    /// <summary>
    /// Defines many filters under one lock, in order. Each is checked as <see cref="Define"/> does; references between
    /// the filters of the batch do not warn. Failures do not stop the batch: each item reports its own result or error.
    /// </summary>
    /// <param name="filters">The filters.</param>
    /// <param name="skipUnchanged">Treat a filter equal to the stored one apart from its uuid as unchanged (import).</param>
    /// <param name="cancellationToken">Stops between items.</param>
    public ImmutableArray<BatchItemResult> DefineMany(IEnumerable<FilterDefinition> filters, bool skipUnchanged = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var list = filters.ToList();
        var results = ImmutableArray.CreateBuilder<BatchItemResult>(list.Count);
        EnsureDirectory();
        using var _ = StoreLock.Acquire(Directory, Options.LockTimeout, cancellationToken);
        var view = new View(this);
        var pending = list.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var filter in list)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                RequireName(filter.Name);
                var candidate = filter;
                if (skipUnchanged && view.Get(filter.Name) is { } current &&
                    current.Definition.Equals(filter with { Uuid = current.Uuid }))
                {
                    results.Add(new BatchItemResult(filter, new DefineResult(current, DefineOutcome.Unchanged, []), null));
                    continue;
                }
                results.Add(new BatchItemResult(filter, DefineLocked(candidate, view, pending), null));
            }
            catch (NwFilterException e)
            {
                results.Add(new BatchItemResult(filter, null, e));
            }
        }
        return results.MoveToImmutable();
    }

    /// <summary>
    /// Defines several filters under one lock, all or none: each is checked as <see cref="Define"/> checks it, in order
    /// (a later one sees the earlier ones, so a loop among them is found); when one is refused, the files already
    /// written are put back as they were and the refusal is thrown. Warnings are those each define alone would give.
    /// </summary>
    /// <exception cref="NwFilterException">One filter was refused (its diagnostics); nothing was changed.</exception>
    public ImmutableArray<DefineResult> DefineAll(IEnumerable<FilterDefinition> filters, CancellationToken cancellationToken = default) =>
        DefineAll(filters, expected: null, cancellationToken);

    /// <summary>
    /// As <see cref="DefineAll(IEnumerable{FilterDefinition}, CancellationToken)"/>, for an edit of what was read: under the
    /// store's lock, each filter named in <paramref name="expected"/> must still be what the edit started from (the same
    /// canonical XML; null: absent), else nothing is stored (FilterChangedConcurrently) and the caller reads again.
    /// </summary>
    public ImmutableArray<DefineResult> DefineAll(IEnumerable<FilterDefinition> filters, IReadOnlyDictionary<string, FilterDefinition?>? expected, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var list = filters.ToList();
        foreach (var filter in list)
        {
            ArgumentNullException.ThrowIfNull(filter, nameof(filters));
            RequireName(filter.Name);
        }
        EnsureDirectory();
        using var _ = StoreLock.Acquire(Directory, Options.LockTimeout, cancellationToken);
        var view = new View(this);
        foreach (var (name, was) in expected ?? ImmutableDictionary<string, FilterDefinition?>.Empty)
        {
            var now = view.Get(name)?.Definition;
            if ((now is null) != (was is null) || (now is not null && NwFilterXmlWriter.Write(now) != NwFilterXmlWriter.Write(was!)))
            {
                throw new NwFilterException(Diagnostic.Error(
                    StoreCodes.FilterChangedConcurrently,
                    $"Filter '{name}' changed while it was being edited; nothing was stored. Run the command again to edit the filter as it is now.",
                    DiagnosticCategory.InvalidOperation) with { Filter = name });
            }
        }
        var journal = new List<(string Path, byte[]? Previous)>();
        var results = ImmutableArray.CreateBuilder<DefineResult>(list.Count);
        try
        {
            foreach (var filter in list)
            {
                cancellationToken.ThrowIfCancellationRequested();
                results.Add(DefineLocked(filter, view, pending: null, journal));
            }
        }
        catch
        {
            Rollback(journal);
            throw;
        }
        return results.MoveToImmutable();
    }

    /// <summary>Puts back the files a failed <see cref="DefineAll(IEnumerable{FilterDefinition}, IReadOnlyDictionary{string, FilterDefinition}, CancellationToken)"/> wrote, last first.</summary>
    private static void Rollback(List<(string Path, byte[]? Previous)> journal)
    {
        for (var i = journal.Count - 1; i >= 0; i--)
        {
            var (path, previous) = journal[i];
            try
            {
                if (previous is null)
                {
                    AtomicFile.Delete(path);
                }
                else
                {
                    AtomicFile.WriteAllBytes(path, previous);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw WriteFailed(path, e);
            }
            finally
            {
                FilterFileCache.Forget(path);
            }
        }
    }

    /// <summary>
    /// Every problem with <paramref name="candidate"/>, without writing anything: what <see cref="Define"/> would refuse
    /// (an invalid name or value, a uuid conflict, a loop) and, for its whole reference tree with the candidate in
    /// place of any stored filter of its name, every filter that is missing or unreadable (errors here: such a tree
    /// cannot be instantiated). An empty result means the filter is usable as it is.
    /// </summary>
    public ImmutableArray<Diagnostic> Check(FilterDefinition candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var problems = ImmutableArray.CreateBuilder<Diagnostic>();
        if (FilterNames.Check(candidate.Name) is { } badName)
        {
            problems.Add(badName);
            return problems.ToImmutable();
        }
        FilterDefinition filter;
        try
        {
            filter = NwFilterXmlReader.ReadFilter(NwFilterXmlWriter.Write(candidate), new XmlReadOptions { SourceName = $"filter '{candidate.Name}'" }).Value;
        }
        catch (NwFilterException e)
        {
            problems.AddRange(e.Diagnostics);
            return problems.ToImmutable();
        }

        var view = new View(this);
        var current = view.Get(filter.Name);
        if (filter.Uuid is { } given)
        {
            if (given != current?.Uuid && view.UuidOwner(given) is { } owner && owner != filter.Name)
            {
                problems.Add(Diagnostic.Error(
                    StoreCodes.UuidInUse, $"The uuid {given} of filter '{filter.Name}' belongs to the filter '{owner}'.",
                    DiagnosticCategory.InvalidOperation) with { Filter = filter.Name, Element = "uuid", Value = given.ToString() });
            }
            else if (current is not null && current.Uuid != given)
            {
                problems.Add(Diagnostic.Error(
                    StoreCodes.FilterExistsWithOtherUuid,
                    $"The filter '{filter.Name}' exists with uuid {current.Uuid}, not {given}.",
                    DiagnosticCategory.InvalidOperation) with { Filter = filter.Name, Element = "uuid", Value = given.ToString() });
            }
        }

        var unreadable = new HashSet<string>(StringComparer.Ordinal);
        var source = new CheckSource(name =>
        {
            if (name == filter.Name)
            {
                return filter;
            }
            try
            {
                return Find(name);
            }
            catch (NwFilterException e)
            {
                if (unreadable.Add(name))
                {
                    problems.AddRange(e.Diagnostics);
                }
                return null;
            }
        });
        var flattened = FilterGraph.Flatten(source, filter, ParameterSet.Empty);
        problems.AddRange(flattened.Problems.Where(p => !(p.Code == FilterGraph.FilterNotFoundCode && p.Value is { } v && unreadable.Contains(v))));
        return problems.ToImmutable();
    }

    private sealed class CheckSource(Func<string, FilterDefinition?> find) : IFilterSource
    {
        public FilterDefinition? Find(string name) => find(name);
    }

    /// <summary>
    /// Removes a defined filter. Refuses an unknown name, a built-in that is not redefined, and a filter a binding
    /// uses (through <see cref="FilterStoreOptions.BindingUsage"/>); warns about filters that still reference it.
    /// </summary>
    public UndefineResult Undefine(string name, CancellationToken cancellationToken = default)
    {
        RequireName(name);
        if (!System.IO.Directory.Exists(Directory))
        {
            return UndefineLocked(name, new View(this));
        }
        using var _ = StoreLock.Acquire(Directory, Options.LockTimeout, cancellationToken);
        return UndefineLocked(name, new View(this));
    }

    // -------------------------------------------------------------------------------------------------------------

    private DefineResult DefineLocked(FilterDefinition filter, View view, IReadOnlySet<string>? pending, List<(string Path, byte[]? Previous)>? journal = null)
    {
        var current = view.Get(filter.Name);
        Guid uuid;
        if (filter.Uuid is { } given)
        {
            // Only a given uuid needs the whole store (its owner); a generated one is unique, a kept one is this name's.
            if (given != current?.Uuid && view.UuidOwner(given) is { } owner && owner != filter.Name)
            {
                throw new NwFilterException(Diagnostic.Error(
                    StoreCodes.UuidInUse,
                    $"Cannot define filter '{filter.Name}': its uuid {given} belongs to the filter '{owner}'.",
                    DiagnosticCategory.InvalidOperation) with { Filter = filter.Name, Element = "uuid", Value = given.ToString() });
            }
            if (current is not null && current.Uuid != given)
            {
                throw new NwFilterException(Diagnostic.Error(
                    StoreCodes.FilterExistsWithOtherUuid,
                    $"Cannot define filter '{filter.Name}' with uuid {given}: it already exists with uuid {current.Uuid}. " +
                    "Leave the uuid out to keep the existing one.",
                    DiagnosticCategory.InvalidOperation) with { Filter = filter.Name, Element = "uuid", Value = given.ToString() });
            }
            uuid = given;
        }
        else
        {
            uuid = current?.Uuid ?? Guid.NewGuid();
        }
        // Store what a later read will return: the canonical XML, read back strictly. This also validates a filter built
        // in code (a bad chain name, a value out of range) with the reader's own diagnostics.
        var xml = NwFilterXmlWriter.Write(filter with { Uuid = uuid });
        var definition = NwFilterXmlReader.ReadFilter(xml, new XmlReadOptions { SourceName = $"filter '{filter.Name}'" }).Value;

        if (FilterGraph.FindLoop(definition, n => view.Get(n)?.Definition) is { } loop)
        {
            throw new NwFilterException(FilterGraph.LoopError(filter.Name, loop));
        }

        var warnings = definition.References
            .Select(r => r.Filter)
            .Distinct(StringComparer.Ordinal)
            .Where(n => n != definition.Name && pending?.Contains(n) != true && view.Get(n) is null)
            .Select(n => Diagnostic.Warning(
                StoreCodes.MissingFilterReference,
                $"Filter '{definition.Name}' references the filter '{n}', which does not exist (yet).") with
            {
                Category = DiagnosticCategory.ObjectNotFound, Filter = definition.Name, Element = "filterref", Attribute = "filter", Value = n,
            })
            .ToImmutableArray();

        if (current is not null && current.Definition.Equals(definition))
        {
            return new DefineResult(current, DefineOutcome.Unchanged, warnings);
        }

        var path = PathOf(definition.Name);
        var existed = File.Exists(path) || current is not null;
        try
        {
            journal?.Add((path, File.Exists(path) ? File.ReadAllBytes(path) : null));
            AtomicFile.WriteAllText(path, xml);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(path, e);
        }
        finally
        {
            FilterFileCache.Forget(path);
        }
        var stored = new StoredFilter(definition, BuiltInFilters.Contains(definition.Name) ? FilterOrigin.Redefined : FilterOrigin.Defined, path);
        view.Set(stored);
        return new DefineResult(stored, existed ? DefineOutcome.Updated : DefineOutcome.Created, warnings);
    }

    private UndefineResult UndefineLocked(string name, View view)
    {
        if (view.Get(name) is not { } current)
        {
            throw new NwFilterException(NotFound(name));
        }
        if (current.Origin == FilterOrigin.BuiltIn)
        {
            throw new NwFilterException(Diagnostic.Error(
                StoreCodes.BuiltInFilterNotRemovable,
                $"Cannot remove filter '{name}': it is a built-in filter and is not redefined.",
                DiagnosticCategory.InvalidOperation) with { Filter = name, Value = name });
        }

        var revealed = BuiltInFilters.Find(name) is { } builtIn ? new StoredFilter(builtIn, FilterOrigin.BuiltIn, null) : null;
        var warnings = ImmutableArray<Diagnostic>.Empty;
        if (revealed is null)
        {
            // Everything that reaches this filter breaks when it goes: it, and every filter referencing it, directly or not.
            var affected = Referrers(name, view, transitive: true);
            var users = new List<(string Binding, string Filter)>();
            foreach (var filterName in affected.Prepend(name))
            {
                users.AddRange(Options.BindingUsage.FindBindingsUsing(filterName).Select(b => (b, filterName)));
            }
            if (users.Count > 0)
            {
                var list = string.Join(", ", users.Select(u => u.Filter == name ? $"'{u.Binding}'" : $"'{u.Binding}' (through '{u.Filter}')"));
                throw new NwFilterException(Diagnostic.Error(
                    StoreCodes.FilterInUse,
                    $"Cannot remove filter '{name}': it is in use by the binding{(users.Count == 1 ? "" : "s")} {list}.",
                    DiagnosticCategory.InvalidOperation) with { Filter = name, Value = string.Join(",", users.Select(u => u.Binding)) });
            }
            warnings =
            [
                .. Referrers(name, view, transitive: false).Select(r => Diagnostic.Warning(
                    StoreCodes.FilterStillReferenced,
                    $"Filter '{r}' still references the removed filter '{name}'.") with
                {
                    Category = DiagnosticCategory.ObjectNotFound, Filter = r, Element = "filterref", Attribute = "filter", Value = name,
                }),
            ];
        }

        try
        {
            AtomicFile.Delete(current.Path!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(current.Path!, e);
        }
        finally
        {
            FilterFileCache.Forget(current.Path!);
        }
        return new UndefineResult(current, revealed, warnings);
    }

    private static IEnumerable<string> Referrers(string name, View view, bool transitive)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>([name]);
        while (queue.Count > 0)
        {
            var target = queue.Dequeue();
            foreach (var f in view.All())
            {
                if (f.Name != name && f.Definition.References.Any(r => r.Filter == target) && found.Add(f.Name) && transitive)
                {
                    queue.Enqueue(f.Name);
                }
            }
        }
        return found;
    }

    private List<(string Name, FileInfo Info)> EnumerateFilterFiles()
    {
        var files = new List<(string, FileInfo)>();
        var directory = new DirectoryInfo(Directory);
        if (!directory.Exists)
        {
            return files;
        }
        foreach (var info in directory.EnumerateFiles("*" + FilterNames.FileExtension))
        {
            if (FilterNames.FromFileName(info.Name) is { } name)
            {
                files.Add((name, info));
            }
        }
        return files;
    }

    private void EnsureDirectory()
    {
        try
        {
            if (OperatingSystem.IsWindows())
            {
                System.IO.Directory.CreateDirectory(Directory);
            }
            else
            {
                System.IO.Directory.CreateDirectory(Directory,
                    UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw WriteFailed(Directory, e);
        }
    }

    private static void RequireName(string name)
    {
        if (FilterNames.Check(name) is { } problem)
        {
            throw new NwFilterException(problem);
        }
    }

    internal static Diagnostic NotFound(string name) =>
        Diagnostic.Error(StoreCodes.FilterNotFound, $"No filter named '{name}'.", DiagnosticCategory.ObjectNotFound) with
        {
            Filter = name, Value = name,
        };

    private static NwFilterException WriteFailed(string path, Exception e) =>
        new(Diagnostic.Error(
            StoreCodes.StoreWriteFailed,
            $"Cannot write '{path}': {e.Message}",
            e is UnauthorizedAccessException ? DiagnosticCategory.PermissionDenied : DiagnosticCategory.ResourceUnavailable) with { Source = path },
            e);

    /// <summary>
    /// What a writer sees of the store while it holds the lock: filters read on demand (an unreadable file counts as
    /// absent), the whole store only when a question needs it (a uuid's owner, the referrers), kept current through a
    /// batch.
    /// </summary>
    private sealed class View(FilterStore store)
    {
        private readonly Dictionary<string, StoredFilter?> _byName = new(StringComparer.Ordinal);
        private Dictionary<Guid, string>? _byUuid;

        public StoredFilter? Get(string name)
        {
            if (!_byName.TryGetValue(name, out var filter) && _byUuid is null)
            {
                try
                {
                    filter = store.Get(name);
                }
                catch (NwFilterException)
                {
                    filter = null;
                }
                _byName[name] = filter;
            }
            return filter;
        }

        public string? UuidOwner(Guid uuid)
        {
            LoadAll();
            return _byUuid!.GetValueOrDefault(uuid);
        }

        public IEnumerable<StoredFilter> All()
        {
            LoadAll();
            return _byName.Values.OfType<StoredFilter>();
        }

        public void Set(StoredFilter filter)
        {
            if (_byUuid is not null)
            {
                if (_byName.GetValueOrDefault(filter.Name) is { } old)
                {
                    _byUuid.Remove(old.Uuid);
                }
                _byUuid[filter.Uuid] = filter.Name;
            }
            _byName[filter.Name] = filter;
        }

        private void LoadAll()
        {
            if (_byUuid is not null)
            {
                return;
            }
            _byName.Clear();
            _byUuid = [];
            foreach (var f in store.List().Filters)
            {
                _byName[f.Name] = f;
                _byUuid[f.Uuid] = f.Name;
            }
        }
    }
}

/// <summary>One item of <see cref="FilterStore.DefineMany"/>: its result, or the error that refused it.</summary>
/// <param name="Input">The filter given.</param>
/// <param name="Result">What the define did; null when it failed.</param>
/// <param name="Error">Why it failed; null when it succeeded.</param>
public sealed record BatchItemResult(FilterDefinition Input, DefineResult? Result, NwFilterException? Error)
{
    /// <summary>True when this item was defined.</summary>
    public bool Succeeded => Error is null;
}
