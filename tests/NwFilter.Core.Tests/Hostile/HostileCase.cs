using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NwFilter.Core.Backends;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Model;
using NwFilter.Core.Store;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Hostile;

/// <summary>
/// One hostile input: <see cref="Prepare"/> builds it (outside the measurement) and returns the operation that must
/// fail with <see cref="Code"/>: a define through the fixture's store, or a compile through the binding path.
/// </summary>
/// <param name="Name">Unique: the theory's data row.</param>
/// <param name="Code">The exact error id expected (the primary diagnostic's code).</param>
/// <param name="Prepare">Builds the input; returns what is measured.</param>
/// <param name="MaxAllocatedBytes">The bound on what the operation may allocate on its thread.</param>
public sealed record HostileCase(string Name, string Code, Func<HostileStore, Action> Prepare, long MaxAllocatedBytes = HostileCase.Small)
{
    /// <summary>The default bound: a small document's read, define or compile allocates well under this.</summary>
    public const long Small = 32L * 1024 * 1024;

    /// <summary>For inputs of several megabytes (the input itself is built outside the measurement).</summary>
    public const long Large = 256L * 1024 * 1024;

    /// <summary>Extra checks on the exception (the byte offset named, the attribute named...).</summary>
    public Action<Exception>? Check { get; init; }

    public override string ToString() => Name;
}

/// <summary>
/// The store every filter case is defined into: a temp directory seeded with ordinary filters (a base filter whose
/// rules use variables, and a chain of <see cref="ChainLength"/> filters for loop cases). <see cref="Hash"/> is the
/// SHA-256 of every file's name and content, taken before and after each case.
/// </summary>
public sealed class HostileStore : IDisposable
{
    public const int ChainLength = 50;

    public static readonly PhysicalAddress Mac = PhysicalAddress.Parse("52-54-00-11-22-33");

    private readonly TempDirectory _dir = new("nwfilter-hostile");

    public HostileStore()
    {
        Store = new FilterStore(_dir.Combine("filters"), new FilterStoreOptions { LockTimeout = TimeSpan.FromSeconds(10) });
        Scratch = new TempDirectory("nwfilter-hostile-input");
        var seed = new List<FilterDefinition>
        {
            NwFilterXmlReader.ReadFilter(BaseFilterXml).Value,
        };
        for (var i = 0; i < ChainLength; i++)
        {
            seed.Add(new FilterDefinition($"chain-{i}")
            {
                Entries = i + 1 < ChainLength
                    ? [new FilterReference($"chain-{i + 1}"), new FilterRule(RuleAction.Accept, RuleDirection.In, ProtocolKind.None)]
                    : [new FilterRule(RuleAction.Accept, RuleDirection.In, ProtocolKind.None)],
            });
        }
        foreach (var result in Store.DefineMany(seed))
        {
            Assert.True(result.Succeeded, result.Error?.Message);
        }
    }

    /// <summary>A filter whose rules take variables into addresses, ports, a MAC and a comment.</summary>
    public const string BaseFilterXml = """
        <filter name='base' chain='root'>
          <rule action='accept' direction='out'><ip srcipaddr='$IP'/></rule>
          <rule action='drop' direction='out'><mac match='no' srcmacaddr='$MAC'/></rule>
          <rule action='accept' direction='in'><tcp dstportstart='$PORT' comment='$C'/></rule>
          <rule action='accept' direction='in'><udp dstipaddr='$DST' state='NEW'/></rule>
        </filter>
        """;

    public FilterStore Store { get; }

    /// <summary>Where inputs that are files are written (not the store).</summary>
    public TempDirectory Scratch { get; }

    /// <summary>
    /// When set (HostileKernelTests), the binding cases bind for real instead of compiling: the binding, with the
    /// filters it is to be compiled from, goes to this (a BindingManager's apply in a lab namespace), which throws the
    /// binding's error.
    /// </summary>
    public Action<FilterBinding, IFilterSource>? Bind { get; set; }

    /// <summary>The store directory's content, as one hash (non-regular entries by name and kind only).</summary>
    public string Hash() => HashOf(Store.Directory);

    /// <summary>A directory's content, as one hash (non-regular entries by name and kind only).</summary>
    public static string HashOf(string path)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var directory = new DirectoryInfo(path);
        if (directory.Exists)
        {
            foreach (var entry in directory.EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                sha.AppendData(Encoding.UTF8.GetBytes(entry.Name + "\0"));
                if (entry.LinkTarget is { } target)
                {
                    sha.AppendData(Encoding.UTF8.GetBytes("link:" + target));
                }
                else if (entry is FileInfo file && IsRegular(file.FullName))
                {
                    sha.AppendData(File.ReadAllBytes(file.FullName));
                }
                else
                {
                    sha.AppendData(Encoding.UTF8.GetBytes("special:" + entry.Attributes));
                }
            }
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    private static bool IsRegular(string path)
    {
        try
        {
            DocumentFile.ReadText(path);
            return true;
        }
        catch (DocumentReadException e) when (e.Diagnostic.Code == XmlDiagnosticCodes.NotARegularFile)
        {
            return false;
        }
        catch (DocumentReadException)
        {
            return true;
        }
    }

    /// <summary>Reads a filter document and defines it: what Set-NwFilter -Xml does.</summary>
    public void DefineXml(string xml) => Store.Define(NwFilterXmlReader.ReadFilter(xml).Value);

    /// <summary>Writes <paramref name="bytes"/> to a scratch file, reads it as a filter document and defines it: Set-NwFilter -Path.</summary>
    public Action DefineFile(string name, byte[] bytes)
    {
        var path = Scratch.Combine(name + ".xml");
        File.WriteAllBytes(path, bytes);
        return () => Store.Define(NwFilterXmlReader.ReadFilterFile(path).Value);
    }

    /// <summary>Reads a binding document and compiles it against the store on its backend, as a bind does before touching the kernel.</summary>
    public void CompileBindingXml(string xml)
    {
        var binding = NwFilterXmlReader.ReadBinding(xml).Value;
        if (Bind is { } bind)
        {
            bind(binding, Store);
            return;
        }
        RulesetBuilder.Build(Store, binding.Filter, binding.PortDevice, binding.MacAddress, binding.Parameters, binding.Backend);
    }

    /// <summary>Compiles <paramref name="top"/> (references looked up in <paramref name="source"/>, else the store) for a port.</summary>
    public void Compile(FilterDefinition top, ParameterSet parameters, FirewallBackendKind backend, string port = "vnet0", IFilterSource? source = null)
    {
        if (Bind is { } bind)
        {
            bind(new FilterBinding(port, Mac, top.Name) { Parameters = parameters, Backend = backend }, new WithTop(source ?? Store, top));
            return;
        }
        RulesetBuilder.Build(source ?? Store, top, port, Mac, parameters, backend);
    }

    /// <summary><paramref name="top"/> over the filters of <paramref name="under"/>: what a bind of a binding naming top compiles from.</summary>
    private sealed class WithTop(IFilterSource under, FilterDefinition top) : IFilterSource
    {
        public FilterDefinition? Find(string name) => name == top.Name ? top : under.Find(name);
    }

    public static string BindingXml(string portdev = "vnet0", string filter = "base", string parameters = "<parameter name='IP' value='10.0.0.1'/>", string backend = "") => $"""
        <filterbinding>
          <owner><name>vm</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>
          <portdev name='{portdev}'/>
          <mac address='52:54:00:11:22:33'/>
          <filterref filter='{filter}'>{parameters}</filterref>
          {backend}
        </filterbinding>
        """;

    public void Dispose()
    {
        _dir.Dispose();
        Scratch.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    /// <summary>Makes a FIFO (named pipe) in the scratch directory.</summary>
    public string MakeFifo(string name)
    {
        var path = Scratch.Combine(name);
        if (!File.Exists(path))
        {
            Assert.Equal(0, mkfifo(path, 0x180)); // 0600
        }
        return path;
    }
}

/// <summary>The error id of what the document readers and the core throw; null for anything else (a crash).</summary>
public static class ErrorIds
{
    public static string? Of(Exception e) => e switch
    {
        NwFilterException n => n.Primary.Code,
        DocumentReadException d => d.Diagnostic.Code,
        _ => null,
    };

    public static Diagnostic? Primary(Exception e) => e switch
    {
        NwFilterException n => n.Primary,
        DocumentReadException d => d.Diagnostic,
        _ => null,
    };
}
