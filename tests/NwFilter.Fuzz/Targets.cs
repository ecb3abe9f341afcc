using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Text;
using CsCheck;
using NwFilter.Core.Backends.Nftables;
using NwFilter.Core.BuiltIn;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Learning;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Schema;
using NwFilter.Core.Xml;

namespace NwFilter.Fuzz;

/// <summary>The targets by name, in the order the fuzz task runs them.</summary>
public static class Targets
{
    public static IReadOnlyList<string> Names { get; } = ["filter-xml", "binding-xml", "value-parser", "frame-decoder", "nft-script"];

    public static IFuzzTarget Create(string name) => name switch
    {
        "filter-xml" => new FilterXmlTarget(),
        "binding-xml" => new BindingXmlTarget(),
        "value-parser" => new ValueParserTarget(),
        "frame-decoder" => new FrameDecoderTarget(),
        "nft-script" => new NftScriptTarget(),
        _ => throw new ArgumentException($"no fuzz target '{name}' (targets: {string.Join(", ", Names)})", nameof(name)),
    };
}

/// <summary>Reads an input through the string API, or (for raw bytes) through a file, as the cmdlets read one.</summary>
internal abstract class XmlTarget<TValue> : FuzzTarget<XmlInput>
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"nwfilter-fuzz-{Environment.ProcessId}.xml");

    protected override long InputSize(XmlInput input) => input.Size;

    protected override string Print(XmlInput input) => input.ToString();

    protected abstract ReadResult<TValue> ReadText(string text, XmlReadOptions options);

    protected abstract ReadResult<TValue> ReadFile(string path, XmlReadOptions options);

    protected abstract string Write(TValue value);

    /// <summary>
    /// Refusals of a written document that are no crash: values libvirt itself would not read back (a comment
    /// starting with '$' reads as a variable; an ipset libvirt drops), as Xml/ReaderFuzzTests allows.
    /// </summary>
    private static readonly HashSet<string> RereadTolerated =
        [XmlDiagnosticCodes.IpSetDropped, XmlDiagnosticCodes.InvalidAttributeValue, XmlDiagnosticCodes.InvalidVariableReference];

    protected override void Check(XmlInput input)
    {
        var options = input.Lenient ? XmlReadOptions.LenientDefault : XmlReadOptions.Strict;
        Guarded(input, () =>
        {
            ReadResult<TValue> result;
            if (input.Text is not null)
            {
                result = ReadText(input.Text, options);
            }
            else
            {
                File.WriteAllBytes(_file, input.Bytes!);
                try
                {
                    result = ReadFile(_file, options);
                }
                finally
                {
                    File.Delete(_file);
                }
            }
            if (result is null || result.Value is null)
            {
                throw new FuzzCrash($"{Name}: the reader returned no value and reported nothing");
            }
            if (!input.Lenient && !result.Warnings.IsDefaultOrEmpty && result.Warnings.Any(w => w.Severity == DiagnosticSeverity.Error))
            {
                throw new FuzzCrash($"{Name}: the strict reader returned a value with an error among its warnings");
            }
            // What the reader accepts, the writer writes and the reader reads again.
            var written = Write(result.Value);
            try
            {
                ReadText(written, XmlReadOptions.LenientDefault);
            }
            catch (NwFilterException e) when (!e.Diagnostics.All(d => RereadTolerated.Contains(d.Code)))
            {
                throw new FuzzCrash($"{Name}: the writer's output of an accepted document is refused: [{e.Primary.Code}] {e.Primary.Message}\nwritten:\n{written}");
            }
        });
        if (input.Text is not null)
        {
            // The either-document entry point (Set-NwFilter's) must agree that the input is a document or refused.
            Guarded(input, () => NwFilterXmlReader.ReadDocument(input.Text, options));
        }
    }
}

/// <summary>NwFilterXmlReader.ReadFilter, strict and lenient; an accepted filter written by NwFilterXmlWriter reads again.</summary>
internal sealed class FilterXmlTarget : XmlTarget<FilterDefinition>
{
    public override string Name => "filter-xml";

    public override Gen<XmlInput> Inputs => XmlInputs.Filters;

    protected override ReadResult<FilterDefinition> ReadText(string text, XmlReadOptions options) => NwFilterXmlReader.ReadFilter(text, options);

    protected override ReadResult<FilterDefinition> ReadFile(string path, XmlReadOptions options) => NwFilterXmlReader.ReadFilterFile(path, options);

    protected override string Write(FilterDefinition value) => NwFilterXmlWriter.Write(value);
}

/// <summary>NwFilterXmlReader.ReadBinding, strict and lenient; an accepted binding written by NwFilterXmlWriter reads again.</summary>
internal sealed class BindingXmlTarget : XmlTarget<FilterBinding>
{
    public override string Name => "binding-xml";

    public override Gen<XmlInput> Inputs => XmlInputs.Bindings;

    protected override ReadResult<FilterBinding> ReadText(string text, XmlReadOptions options) => NwFilterXmlReader.ReadBinding(text, options);

    protected override ReadResult<FilterBinding> ReadFile(string path, XmlReadOptions options) => NwFilterXmlReader.ReadBindingFile(path, options);

    protected override string Write(FilterBinding value) => NwFilterXmlWriter.Write(value);
}

/// <summary>One attribute value for the value parser: which attribute of which protocol, the text, negated or not.</summary>
public sealed record ValueInput(int Spec, string Text, bool Negated)
{
    public override string ToString()
    {
        var (protocol, spec) = Values.Specs[Spec];
        var shown = Text.Length > 2000 ? Text[..2000] + $"...({Text.Length} chars)" : Text;
        return $"{protocol.ElementName}/{spec.Name} negated={Negated} text=\"{Escape(shown)}\"";
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder();
        foreach (var c in s)
        {
            sb.Append(c is < ' ' or > '~' ? $"\\u{(int)c:x4}" : c.ToString());
        }
        return sb.ToString();
    }
}

/// <summary>
/// Schema/ValueParser.cs over every attribute of the protocol table: TryParse, TryParseAttribute, TryParseVariable
/// and the parameter value and variable name checks return an answer (never throw), and a value TryParse accepts
/// is accepted again when parsed a second time (the parser is a function of its input).
/// </summary>
public sealed class ValueParserTarget : FuzzTarget<ValueInput>
{
    public override string Name => "value-parser";

    public override Gen<ValueInput> Inputs { get; } = new GenFrom<ValueInput>(pcg =>
    {
        var i = pcg.Int(Values.Specs.Count);
        return new ValueInput(i, Values.For(pcg, Values.Specs[i].Spec), pcg.Chance(20));
    }, v => v.Text.Length);

    protected override long InputSize(ValueInput input) => input.Text.Length * 2L;

    protected override string Print(ValueInput input) => input.ToString();

    protected override void Check(ValueInput input) => Guarded(input, () =>
    {
        var spec = Values.Specs[input.Spec].Spec;
        var parsed = ValueParser.TryParse(spec, input.Text, out var value, out var error);
        if (parsed == (error is not null) || (parsed && value is null))
        {
            throw new FuzzCrash($"{Name}: TryParse returned {parsed} with error '{error}' and value '{value}'");
        }
        if (parsed && (!ValueParser.TryParse(spec, input.Text, out var again, out _) || !Equals(again, value)))
        {
            throw new FuzzCrash($"{Name}: parsing the same text twice gave different answers ('{value}', '{again}')");
        }
        var attribute = ValueParser.TryParseAttribute(spec, input.Text, input.Negated, out var av, out var attributeError);
        if (attribute == (attributeError is not null) || (attribute && av is null))
        {
            throw new FuzzCrash($"{Name}: TryParseAttribute returned {attribute} with error '{attributeError}'");
        }
        var variable = ValueParser.TryParseVariable(input.Text, out _, out var variableError);
        if (variable == (variableError is not null))
        {
            throw new FuzzCrash($"{Name}: TryParseVariable returned {variable} with error '{variableError}'");
        }
        _ = ValueParser.IsValidParameterValue(input.Text);
        _ = ValueParser.IsValidVariableName(input.Text);
    });
}

/// <summary>
/// Learning/FrameDecoder.cs (with DhcpMessage and Ipv6Decoder) over built and broken Ethernet frames: it returns an
/// observation or null, never throws, and what it returns is about the VM it decoded for.
/// </summary>
public sealed class FrameDecoderTarget : FuzzTarget<FrameInput>
{
    public override string Name => "frame-decoder";

    public override Gen<FrameInput> Inputs => Frames.All;

    public override TimeSpan TimeBound => TimeSpan.FromSeconds(1);

    protected override long InputSize(FrameInput input) => input.Frame.Length;

    protected override string Print(FrameInput input) => input.ToString();

    protected override void Check(FrameInput input) => Guarded(input, () =>
    {
        var observation = FrameDecoder.Decode(input.Frame, input.VmMac);
        switch (observation)
        {
            case DhcpFromVm d when d.Message.ClientMac != input.VmMac || d.Message.Operation != DhcpMessage.BootRequest:
                throw new FuzzCrash($"{Name}: a DHCP request not from the VM was taken as the VM's");
            case DhcpToVm d when d.Message.ClientMac != input.VmMac || d.Message.Operation != DhcpMessage.BootReply:
                throw new FuzzCrash($"{Name}: a DHCP reply not for the VM was taken as the VM's");
            case AddressClaim { Address: null }:
                throw new FuzzCrash($"{Name}: an address claim without an address");
        }
        // What IPv6 learning would take from it is never multicast, unspecified, loopback, IPv4-mapped or link-local.
        if (observation is not null && AnyModeDecision.Decide(observation, [], learnIPv6: true, DateTimeOffset.UnixEpoch) is { } learned &&
            learned.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 &&
            (learned.Address.IsIPv6Multicast || learned.Address.Equals(System.Net.IPAddress.IPv6Any) || learned.Address.Equals(System.Net.IPAddress.IPv6Loopback) ||
             learned.Address.IsIPv4MappedToIPv6 || learned.Address.IsIPv6LinkLocal))
        {
            throw new FuzzCrash($"{Name}: IPv6 learning would take {learned.Address}");
        }
        // The layers on their own, as a frame's payload would reach them.
        if (input.Frame.Length > 14)
        {
            var payload = input.Frame.AsSpan(14);
            _ = Ipv6Decoder.Decode(payload, fromVm: true);
            _ = Ipv6Decoder.Decode(payload, fromVm: false);
            _ = DhcpMessage.TryParse(payload, out _);
            if (payload.Length > 28)
            {
                _ = DhcpMessage.TryParse(payload[28..], out _); // after an IPv4 and a UDP header
            }
        }
    });
}

/// <summary>A batch of generated filters, one per port, compiled and planned together into one nft script.</summary>
public sealed record NftInput(IReadOnlyList<string> Filters)
{
    public override string ToString() => string.Join("\n", Filters);
}

/// <summary>
/// The nft script writer: valid filters built from the schema (random protocols and attributes with valid values),
/// each resolved for its own port with a MAC and IP, compiled (NftablesCompiler.Compile) and planned together from an
/// empty kernel (NftScriptPlanner.Plan); the script must pass <c>nft -c -f</c> in a scratch network namespace. A
/// filter the reader or compiler refuses with a diagnostic is left out (and counted).
/// </summary>
public sealed class NftScriptTarget : FuzzTarget<NftInput>, IDisposable
{
    private const int BatchSize = 16;
    private static readonly IFilterSource BuiltIns = new InMemoryFilterSource(BuiltInFilters.All);
    private readonly Lazy<string> _namespace = new(CreateNamespace);
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"nwfilter-fuzz-{Environment.ProcessId}.nft");
    private long _refused;
    private long _checked;

    public override string Name => "nft-script";

    /// <summary>Why the reader, resolver or compiler refused generated filters: diagnostic code, count.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, long> Refusals { get; } = new();

    /// <summary>
    /// Crashes found by this target that are still open, by the nft error they give (none now: the two found so far, a
    /// range whose end is below its start and an ICMPv6 type under another protocol, are refused by the lowering with
    /// RangeReversed and IcmpWithoutIcmpProtocol: tests/NwFilter.Core.Tests/Lowering/UnmatchableRuleTests.cs).
    /// </summary>
    private static readonly (string Name, string Error)[] Known = [];

    protected override string? KnownCrash(Exception crash)
    {
        if (crash is not FuzzCrash || crash.Message.Contains("\nfilters refused alone:\n\nscript", StringComparison.Ordinal))
        {
            return null; // not a filter that fails alone: a new kind of failure
        }
        var errors = Count(crash.Message, "Error: ");
        var kinds = Known.Where(k => crash.Message.Contains(k.Error, StringComparison.Ordinal)).ToList();
        return errors > 0 && errors == kinds.Sum(k => Count(crash.Message, k.Error)) ? string.Join("+", kinds.Select(k => k.Name)) : null;
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    public long Refused => Interlocked.Read(ref _refused);

    public long Checked => Interlocked.Read(ref _checked);

    public override TimeSpan TimeBound => TimeSpan.FromSeconds(30);

    public override Gen<NftInput> Inputs { get; } = new GenFrom<NftInput>(pcg =>
    {
        var filters = new List<string>();
        for (var i = 0; i < BatchSize; i++)
        {
            filters.Add(XmlInputs.Filter(pcg, validOnly: true, maxRules: 6).ToString());
        }
        return new NftInput(filters);
    }, n => n.Filters.Sum(f => f.Length));

    /// <summary>Whether this host can run the target (root, ip and nft), else why not.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return "the nft --check target needs root on Linux (a scratch network namespace)";
        }
        return new[] { "ip", "nft" }.FirstOrDefault(p => !OnPath(p)) is { } missing ? $"{missing} is not installed" : null;
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)));

    protected override long InputSize(NftInput input) => input.Filters.Sum(f => f.Length) * 2L;

    protected override string Print(NftInput input) => input.ToString();

    protected override void Check(NftInput input)
    {
        var changes = new List<NftPortChange>();
        var filters = new List<string>();
        Guarded(input, () =>
        {
            for (var i = 0; i < input.Filters.Count; i++)
            {
                if (Compile(input.Filters[i], i) is { } ruleset)
                {
                    changes.Add(NftPortChange.Set(ruleset));
                    filters.Add(input.Filters[i]);
                }
            }
        });
        if (changes.Count == 0)
        {
            return;
        }
        var script = NftScriptPlanner.Plan(NftState.Empty, changes);
        if (NftCheck(script.Text) is { } error)
        {
            // Name the filter(s) the kernel refuses, each checked alone.
            var culprits = changes.Select((c, i) => (c, i))
                .Where(x => NftCheck(NftScriptPlanner.Plan(NftState.Empty, [x.c]).Text) is not null)
                .Select(x => filters[x.i]).ToList();
            Interlocked.Add(ref _checked, changes.Count - culprits.Count);
            var first = culprits.Count > 0 ? NftScriptPlanner.Plan(NftState.Empty, [changes[filters.IndexOf(culprits[0])]]).Text : script.Text;
            throw new FuzzCrash($"{Name}: nft -c refused the script: {error}\nfilters refused alone:\n{string.Join("\n", culprits)}\nscript:\n{first}");
        }
        Interlocked.Add(ref _checked, changes.Count);
    }

    private NftPortRuleset? Compile(string xml, int port)
    {
        try
        {
            var filter = NwFilterXmlReader.ReadFilter(xml).Value;
            var mac = PhysicalAddress.Parse($"52-54-00-00-{port / 256:x2}-{port % 256:x2}");
            var parameters = ParameterSet.Empty.With("IP", $"10.0.{port / 256}.{port % 256 + 1}");
            var resolution = FilterResolver.Resolve(BuiltIns, filter, parameters, mac);
            return NftablesCompiler.Compile($"vnet{port}", resolution);
        }
        catch (NwFilterException e)
        {
            Refusals.AddOrUpdate(e.Primary.Code, 1, (_, n) => n + 1);
            Interlocked.Increment(ref _refused);
            return null;
        }
    }

    /// <summary>Null when <c>nft -c -f</c> accepts the script in the scratch namespace, else nft's message.</summary>
    private string? NftCheck(string script)
    {
        File.WriteAllText(_file, script);
        var (code, output) = Run("ip", "netns", "exec", _namespace.Value, "nft", "-c", "-f", _file);
        return code == 0 ? null : output.Trim();
    }

    private static string CreateNamespace()
    {
        var name = $"nwfilter-fuzz-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        var (code, output) = Run("ip", "netns", "add", name);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip netns add {name} failed: {output}");
        }
        return name;
    }

    private static (int Code, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    public void Dispose()
    {
        if (_namespace.IsValueCreated)
        {
            Run("ip", "netns", "delete", _namespace.Value);
        }
        File.Delete(_file);
    }
}
