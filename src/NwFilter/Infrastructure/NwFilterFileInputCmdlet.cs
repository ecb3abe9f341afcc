using System.Management.Automation;

namespace NwFilter.Commands.Infrastructure;

/// <summary>
/// The base of the cmdlets that read filter XML from files (ConvertFrom-NwFilterXml, Set-, Test- and Import-NwFilter):
/// the -Path and -LiteralPath parameters, in their own parameter sets, declared once.
/// </summary>
public abstract class NwFilterFileInputCmdlet : NwFilterCmdlet
{
    /// <summary>The parameter set of -Path.</summary>
    protected const string PathSet = "Path";

    /// <summary>The parameter set of -LiteralPath.</summary>
    protected const string LiteralPathSet = "LiteralPath";

    /// <summary>Files of libvirt XML to read, each holding one or more documents (Import-NwFilter also reads libvirt
    /// filter directories, one NAME.xml per filter). Wildcards are expanded.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    /// <summary>Files of libvirt XML to read, taken literally (no wildcards). Binds FileInfo objects from the pipeline
    /// (and, for Import-NwFilter, DirectoryInfo objects).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "FullName")]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>True when the input comes from -Path or -LiteralPath.</summary>
    protected bool IsFileInput => ParameterSetName is PathSet or LiteralPathSet;

    /// <summary>The -Path or -LiteralPath values, resolved to file-system paths (<see cref="NwFilterCmdlet.ResolveFilePaths"/>).</summary>
    protected IEnumerable<string> ResolveInputPaths() =>
        ResolveFilePaths(ParameterSetName == PathSet ? Path : LiteralPath, ParameterSetName == LiteralPathSet);

    /// <summary>The -Path or -LiteralPath files, each read (<see cref="NwFilterCmdlet.ReadFiles"/>).</summary>
    protected IEnumerable<(string Path, string Text)> ReadInputFiles() =>
        ReadFiles(ParameterSetName == PathSet ? Path : LiteralPath, ParameterSetName == LiteralPathSet);
}
