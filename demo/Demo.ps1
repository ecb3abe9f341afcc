# The NwFilter demonstration, run by `build.ps1 -Task Demo` against the module as laid out in out/NwFilter.
# A placeholder for now: it shows that the module imports, and what it exports.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$module = Import-Module (Join-Path $PSScriptRoot '../out/NwFilter/NwFilter.psd1') -PassThru -Force
"NwFilter $($module.Version) from $([IO.Path]::GetFullPath($module.ModuleBase))"
$commands = @(Get-Command -Module NwFilter)
"$($commands.Count) command(s):"
$commands | Format-Table -AutoSize CommandType, Name, Version | Out-String -Width 120
