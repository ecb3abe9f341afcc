<#
.SYNOPSIS
    Imports the laid-out module and fails unless its manifest exports exactly the cmdlet classes of its root dll.

.DESCRIPTION
    Run by `build.ps1 -Task Layout` in a child process. A cmdlet class is a public, non-abstract type deriving from
    Cmdlet that carries [Cmdlet]. Both directions are reported: a class missing from CmdletsToExport, and a
    CmdletsToExport entry that no class implements.

.EXAMPLE
    pwsh -NoProfile -File tools/Test-ModuleLayout.ps1 -Path out/NwFilter
#>
[CmdletBinding()]
param(
    # The laid-out module folder (holding <Name>.psd1).
    [Parameter(Mandatory)]
    [string] $Path
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$folder = (Resolve-Path -LiteralPath $Path).ProviderPath
$manifestPath = Join-Path $folder "$(Split-Path -Leaf $folder).psd1"
$manifest = Import-PowerShellDataFile -LiteralPath $manifestPath
$module = Import-Module $manifestPath -PassThru -Force

$assembly = [Reflection.Assembly]::LoadFrom((Join-Path $folder $manifest.RootModule))
$classes = @($assembly.GetExportedTypes() |
    Where-Object { $_.IsSubclassOf([System.Management.Automation.Cmdlet]) -and -not $_.IsAbstract } |
    ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
    ForEach-Object { "$($_.VerbName)-$($_.NounName)" } | Sort-Object -Unique)
$listed = @($manifest.CmdletsToExport | Sort-Object -Unique)

$problems = @(
    $classes | Where-Object { $_ -notin $listed } | ForEach-Object { "cmdlet $_ is in $($manifest.RootModule) but not in CmdletsToExport of NwFilter.psd1" }
    $listed | Where-Object { $_ -notin $classes } | ForEach-Object { "CmdletsToExport lists $_, which no cmdlet class in $($manifest.RootModule) implements" }
    if ($module.Version -ne [version] $manifest.ModuleVersion) { "the module loaded as version $($module.Version), not $($manifest.ModuleVersion)" }
)
if ($problems) {
    foreach ($p in $problems) { [Console]::Error.WriteLine("error: $p") }
    exit 1
}
"Layout: $($module.Name) $($module.Version) imports and exports $($classes.Count) cmdlet(s)"
