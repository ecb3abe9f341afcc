using NwFilter.Core.Diagnostics;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Core.Xml;

namespace NwFilter.Core.Tests.Xml;

/// <summary>
/// Random truncations and mutations of real documents: the reader either succeeds or throws
/// <see cref="NwFilterException"/>, never anything else; what it accepts, the writer can write and the reader re-read.
/// </summary>
public class ReaderFuzzTests
{
    private const int MutationsPerDocument = 60;
    private static readonly string Alphabet = "<>/='\"&;$[]@!-: \n0123456789abcdefxX.,%?#\u00e9\u0000";

    public static TheoryData<string> Seeds()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Repository.TestData("xml"), "*.xml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (!f.EndsWith(".out.xml", StringComparison.Ordinal))
            {
                data.Add(Path.GetRelativePath(Repository.Root, f));
            }
        }
        if (Corpus.Root is { } root)
        {
            foreach (var dir in new[] { "tests/nwfilterxml2xmlin", "tests/virnwfilterbindingxml2xmldata", "src/nwfilter/xml" })
            {
                foreach (var f in Directory.GetFiles(Path.Combine(root, dir), "*.xml").Order(StringComparer.Ordinal))
                {
                    data.Add(f);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MutatedDocumentsFailOnlyWithNwFilterException(string path)
    {
        var original = File.ReadAllText(Path.IsPathRooted(path) ? path : Path.Combine(Repository.Root, path));
        var random = new Random(path.Length * 7919 + original.Length);

        for (var i = 0; i < MutationsPerDocument; i++)
        {
            var mutated = Mutate(original, random);
            foreach (var options in new[] { XmlReadOptions.Strict, XmlReadOptions.LenientDefault })
            {
                try
                {
                    var result = NwFilterXmlReader.ReadDocument(mutated, options);
                    var written = result.Value switch
                    {
                        Core.Model.FilterDefinition f => NwFilterXmlWriter.Write(f),
                        Core.Model.FilterBinding b => NwFilterXmlWriter.Write(b),
                        _ => throw new InvalidOperationException("unexpected document type"),
                    };
                    try
                    {
                        NwFilterXmlReader.ReadDocument(written, XmlReadOptions.LenientDefault);
                    }
                    catch (NwFilterException ex) when (ex.Diagnostics.All(d => d.Code is XmlDiagnosticCodes.IpSetDropped or XmlDiagnosticCodes.InvalidAttributeValue or XmlDiagnosticCodes.InvalidVariableReference))
                    {
                        // Written values libvirt itself would not read back (a comment starting with '$' is read
                        // as a variable, as in libvirt) are acceptable here; a crash is not.
                    }
                }
                catch (NwFilterException ex)
                {
                    Assert.NotEmpty(ex.Diagnostics);
                }
                catch (Exception ex)
                {
                    Assert.Fail($"{path}, mutation {i}: {ex.GetType().Name}: {ex.Message}\n--- document ---\n{mutated}");
                }
            }
        }
    }

    private static string Mutate(string s, Random random)
    {
        if (s.Length == 0)
        {
            return s;
        }
        var at = random.Next(s.Length);
        var from = random.Next(s.Length);
        return random.Next(6) switch
        {
            0 => s[..at],
            1 => s.Remove(at, Math.Min(random.Next(1, 8), s.Length - at)),
            2 => s.Insert(at, Alphabet[random.Next(Alphabet.Length)].ToString()),
            3 => s.Insert(at, s.Substring(from, Math.Min(20, s.Length - from))),
            4 => s[..at] + Alphabet[random.Next(Alphabet.Length)] + s[(at + 1)..],
            _ => Replace(s, random),
        };
    }

    /// <summary>Replaces one attribute value with a random fragment of values seen elsewhere.</summary>
    private static string Replace(string s, Random random)
    {
        var quote = s.IndexOf('\'', random.Next(s.Length));
        if (quote < 0)
        {
            return s;
        }
        var end = s.IndexOf('\'', quote + 1);
        if (end < 0)
        {
            return s;
        }
        string[] values = ["", "$", "$A[@1001]", "0x", "65536", "-1", "::", "1.2.3", "ff:ff", "NONE", "src,", "a b", "&amp;", "\u00e9", "999999999999"];
        return s[..(quote + 1)] + values[random.Next(values.Length)] + s[end..];
    }
}
