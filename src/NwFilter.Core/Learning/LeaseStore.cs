using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using System.Text.Json;
using NwFilter.Core.Backends.EbIpTables;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Resolution;
using NwFilter.Core.Store;

namespace NwFilter.Core.Learning;

/// <summary>
/// Learned addresses kept across restarts: one JSON file per port device, <c>&lt;portdev&gt;.json</c>, in a folder of the
/// state directory beside the binding files (<c>leases/</c> for the host's own namespace, <c>netns/&lt;name&gt;/leases/</c>
/// for a named one, as the binding store lays out <c>bindings/</c>), replaced atomically (temporary file, fsync, rename) on every change. A file records the VM's MAC; a load for
/// another MAC (a new VM on a reused port name) finds nothing. libvirt keeps one appended file for all ports
/// (<c>nwfilter.leases</c>); per-port files need no compaction and no lock between learners.
/// </summary>
public sealed class LeaseStore
{
    /// <summary>The file format version written; a file of a later version is refused.</summary>
    public const int FormatVersion = 1;

    /// <summary>The sub-directory of the state directory.</summary>
    public const string DirectoryName = "leases";

    /// <summary>The folder under the state directory that holds one folder per named namespace (as the binding store).</summary>
    public const string NamespacesDirectoryName = "netns";

    /// <summary>A store in <paramref name="directory"/> (the folder holding the lease files).</summary>
    public LeaseStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
    }

    /// <summary>
    /// The store of <paramref name="networkNamespace"/> (null: the host's own) under the state directory of
    /// <paramref name="location"/> (NWFILTER_STATE_DIR).
    /// </summary>
    public static LeaseStore Open(StoreLocation location, string? networkNamespace = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (networkNamespace is not null && !Host.NetworkNamespace.IsValidName(networkNamespace))
        {
            throw new NwFilterException(Diagnostic.Error("InvalidNetworkNamespace",
                $"'{networkNamespace}' is not a valid network namespace name.", DiagnosticCategory.InvalidArgument) with { Value = networkNamespace });
        }
        return new LeaseStore(networkNamespace is null
            ? Path.Combine(location.StateDirectory, DirectoryName)
            : Path.Combine(location.StateDirectory, NamespacesDirectoryName, networkNamespace, DirectoryName));
    }

    /// <summary>The directory holding the lease files.</summary>
    public string Directory { get; }

    /// <summary>The file of one port device.</summary>
    public string PathOf(string portDevice)
    {
        ChainNames.ValidatePortDevice(portDevice); // also keeps the name a plain file name
        return Path.Combine(Directory, portDevice + ".json");
    }

    /// <summary>
    /// The addresses stored for <paramref name="portDevice"/> and still valid at <paramref name="now"/>; empty when there
    /// is no file or it belongs to another MAC. A damaged file throws <see cref="NwFilterException"/> (InvalidData).
    /// </summary>
    public ImmutableArray<LearnedAddress> Load(string portDevice, PhysicalAddress mac, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(mac);
        var path = PathOf(portDevice);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            var version = root.GetProperty("version").GetInt32();
            if (version > FormatVersion)
            {
                throw Damaged(path, $"format version {version} is newer than this NwFilter reads ({FormatVersion})", null);
            }
            if (!string.Equals(root.GetProperty("mac").GetString(), MacAddressText.Format(mac), StringComparison.OrdinalIgnoreCase))
            {
                return [];
            }
            var result = ImmutableArray.CreateBuilder<LearnedAddress>();
            foreach (var item in root.GetProperty("addresses").EnumerateArray())
            {
                var address = new LearnedAddress(
                    IPAddress.Parse(item.GetProperty("address").GetString()!),
                    Enum.Parse<AddressSource>(item.GetProperty("source").GetString()!, ignoreCase: true),
                    item.GetProperty("learnedAt").GetDateTimeOffset(),
                    item.TryGetProperty("expires", out var expires) && expires.ValueKind != JsonValueKind.Null ? expires.GetDateTimeOffset() : null,
                    item.TryGetProperty("server", out var server) && server.ValueKind != JsonValueKind.Null ? IPAddress.Parse(server.GetString()!) : null);
                if (address.IsValidAt(now))
                {
                    result.Add(address);
                }
            }
            return result.ToImmutable();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw Damaged(path, e.Message, e);
        }
    }

    /// <summary>Writes the addresses of a port (atomically); an empty list deletes the file.</summary>
    public void Save(string portDevice, PhysicalAddress mac, IpLearningMode mode, IEnumerable<LearnedAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(mac);
        ArgumentNullException.ThrowIfNull(addresses);
        var path = PathOf(portDevice);
        var list = addresses.ToList();
        if (list.Count == 0)
        {
            Delete(portDevice);
            return;
        }
        System.IO.Directory.CreateDirectory(Directory);
        AtomicFile.WriteAllText(path, Format(portDevice, mac, mode, list));
    }

    /// <summary>Forgets a port (binding removed); true when there was a file.</summary>
    public bool Delete(string portDevice) => AtomicFile.Delete(PathOf(portDevice));

    internal static string Format(string portDevice, PhysicalAddress mac, IpLearningMode mode, IReadOnlyList<LearnedAddress> addresses)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", FormatVersion);
            json.WriteString("portDevice", portDevice);
            json.WriteString("mac", MacAddressText.Format(mac));
            json.WriteString("mode", mode.ToString().ToLowerInvariant());
            json.WriteStartArray("addresses");
            foreach (var a in addresses)
            {
                json.WriteStartObject();
                json.WriteString("address", a.Address.ToString());
                json.WriteString("source", a.Source.ToString());
                json.WriteString("learnedAt", Stamp(a.LearnedAt));
                if (a.Expires is { } expires)
                {
                    json.WriteString("expires", Stamp(expires));
                }
                else
                {
                    json.WriteNull("expires");
                }
                if (a.Server is { } server)
                {
                    json.WriteString("server", server.ToString());
                }
                else
                {
                    json.WriteNull("server");
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static string Stamp(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static NwFilterException Damaged(string path, string why, Exception? inner) =>
        new(Diagnostic.Error("LeaseFileDamaged", $"The lease file '{path}' cannot be read: {why}") with { Source = path }, inner);
}
