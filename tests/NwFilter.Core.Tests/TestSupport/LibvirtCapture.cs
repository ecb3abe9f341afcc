namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// Reads the captures of what libvirt 9.0 ran and installed (corpus folder <c>live-9.0</c>). A commands file holds one
/// command per line, words separated by single spaces (libvirt's arguments never contain blanks there).
/// </summary>
public static class LibvirtCapture
{
    public static string Path(string fileName) => Corpus.Path("live-9.0", fileName);

    public static IReadOnlyList<(string Program, IReadOnlyList<string> Arguments)> Commands(string fileName) =>
        File.ReadLines(Path(fileName))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(' '))
            .Select(w => (w[0], (IReadOnlyList<string>)w[1..]))
            .ToList();

    /// <summary>A save file without comment lines (they carry dates).</summary>
    public static string Save(string fileName) => WithoutComments(File.ReadAllText(Path(fileName)));

    public static string WithoutComments(string save) =>
        string.Concat(save.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l + "\n"));
}
