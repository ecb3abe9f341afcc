using System.Diagnostics;
using System.Management.Automation;
using NwFilter.Commands.Completers;
using NwFilter.Commands.Infrastructure;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Model;
using NwFilter.Core.Runtime;
using NwFilter.Core.Store;
using NwFilter.Core.Xml;

namespace NwFilter.Commands;

/// <summary>
/// Edits a filter's XML in your editor and defines the result, as virsh nwfilter-edit does.
/// </summary>
/// <remarks>
/// Edit-NwFilter writes the filter's canonical XML to a temporary file, opens it in the editor named by $env:VISUAL,
/// else $env:EDITOR, else vi, and waits for the editor to exit. The editor command is run by /bin/sh with the file as
/// its last argument, so it may carry options (EDITOR='code --wait').
///
/// If the file is unchanged, nothing happens. Otherwise the XML is read strictly (-Lenient as plain libvirt) and
/// defined as Set-NwFilter defines it; changing the name in the XML defines a filter of that name, but then remove or
/// change the uuid line too. If the XML is invalid or the define is refused, the errors are shown and you are asked
/// whether to edit again; -Force edits again without asking. Giving up, or an editor that leaves the file as it was
/// after an error, ends with that error (its id is the problem's code, such as InvalidAttributeValue or
/// FilterLoop) and changes nothing.
///
/// A built-in filter can be edited too: the result is defined under its name and shadows the built-in one.
/// </remarks>
/// <example>
/// <code>Edit-NwFilter test-eth0</code>
/// <para>Opens the filter test-eth0 in your editor and defines it when you save and quit.</para>
/// </example>
/// <example>
/// <code>$env:EDITOR = 'sed -i s/dstportstart=.22./dstportstart="2222"/'; Edit-NwFilter test-eth0 -PassThru</code>
/// <para>Uses a non-interactive "editor" to move the SSH port, and returns the filter as defined.</para>
/// </example>
[Cmdlet(VerbsData.Edit, "NwFilter", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FilterDefinition))]
public sealed class EditNwFilterCommand : NwFilterCmdlet
{
    /// <summary>The filter to edit.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FilterNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>Read the edited XML leniently, as plain libvirt does.</summary>
    [Parameter]
    public SwitchParameter Lenient { get; set; }

    /// <summary>After an error, edit again without asking.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Return the filter as defined.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var store = FilterStoreAccess.Open();
        StoredFilter? current;
        try
        {
            current = store.Get(Name);
        }
        catch (NwFilterException e)
        {
            WriteError(e, Name);
            return;
        }
        if (current is null)
        {
            WriteError(FilterNames.Check(Name) ?? FilterStore.NotFound(Name), Name);
            return;
        }

        var original = NwFilterXmlWriter.Write(current.Definition);
        var directory = Directory.CreateTempSubdirectory("nwfilter-edit-");
        var file = System.IO.Path.Combine(directory.FullName, Name + ".xml");
        try
        {
            File.WriteAllText(file, original);
            var previous = original;
            bool yesToAll = false, noToAll = false;
            while (true)
            {
                if (!RunEditor(file))
                {
                    return;
                }
                var edited = File.ReadAllText(file);
                if (edited == original)
                {
                    WriteVerbose($"Filter '{Name}' not changed.");
                    WriteHost($"Filter {Name} XML configuration not changed.");
                    return;
                }
                var failure = TryDefine(store, edited);
                if (failure is null)
                {
                    return;
                }
                var unchangedAfterError = edited == previous && previous != original;
                previous = edited;
                foreach (var d in failure.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
                {
                    WriteHost("error: " + d);
                }
                if (unchangedAfterError || !(Force || AskToEditAgain(ref yesToAll, ref noToAll)))
                {
                    var record = ErrorRecords.From(failure, Name);
                    record.ErrorDetails = new ErrorDetails($"Filter '{Name}' was not changed: {failure.Message}");
                    WriteError(record);
                    return;
                }
            }
        }
        finally
        {
            try
            {
                directory.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Defines the edited XML; returns the failure, or null on success (or when -WhatIf declined it).</summary>
    private NwFilterException? TryDefine(FilterStore store, string xml)
    {
        FilterDefinition filter;
        try
        {
            var read = NwFilterXmlReader.ReadFilter(xml, new XmlReadOptions { Lenient = Lenient, SourceName = Name + ".xml (edited)" });
            WriteWarnings(read.Warnings);
            filter = read.Value;
        }
        catch (NwFilterException e)
        {
            return e;
        }
        if (!ShouldProcess($"filter '{filter.Name}' in {store.Directory}", "Define edited filter"))
        {
            return null;
        }
        var runtime = Runtime;
        var host = NewHost();
        var response = host.Run(token => Doors.HandleAsync(runtime, new DefineFiltersRequest([filter]), host, token));
        if (response.Error is { } failed)
        {
            return failed;
        }
        var result = response.Items[0].Result!;
        WriteWarnings(result.Warnings);
        WriteVerbose($"{result.Outcome} filter '{result.Filter.Name}'.");
        if (PassThru)
        {
            WriteObject(FilterStoreAccess.ForOutput(result.Filter));
        }
        return null;
    }

    private bool AskToEditAgain(ref bool yesToAll, ref bool noToAll)
    {
        try
        {
            return ShouldContinue($"The edited filter '{Name}' has errors. Edit it again?", "Edit-NwFilter", ref yesToAll, ref noToAll);
        }
        catch (Exception e) when (e is PSInvalidOperationException or System.Management.Automation.Host.HostException or NotImplementedException)
        {
            return false; // a host that cannot ask: give up, reporting the error
        }
    }

    /// <summary>Runs the editor on <paramref name="file"/> and waits; false (with an error) when it fails.</summary>
    private bool RunEditor(string file)
    {
        var editor = new[] { "VISUAL", "EDITOR" }.Select(Environment.GetEnvironmentVariable).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v)) ?? "vi";
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // As git does: the shell splits the editor command, the file is passed as "$@" and never re-parsed.
        foreach (var a in new[] { "-c", editor + " \"$@\"", editor, file })
        {
            info.ArgumentList.Add(a);
        }
        try
        {
            using var process = Process.Start(info)!;
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                WriteError(new ErrorRecord(
                    new InvalidOperationException($"The editor '{editor}' exited with code {process.ExitCode}; filter '{Name}' was not changed."),
                    "EditorFailed", ErrorCategory.InvalidResult, Name));
                return false;
            }
            return true;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            WriteError(new ErrorRecord(e, "EditorFailed", ErrorCategory.ResourceUnavailable, Name));
            return false;
        }
    }

    private void WriteHost(string text) =>
        WriteInformation(new HostInformationMessage { Message = text, NoNewLine = false }, ["PSHOST"]);
}
