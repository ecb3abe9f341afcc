<#
.SYNOPSIS
    Publishes the laid-out module as a .nupkg into a local file repository, as the PowerShell Gallery would receive it.

.DESCRIPTION
    Run by `build.ps1 -Task Package` (and by the package test) in a child pwsh. PSResourceGet keeps repository
    registrations per user, so this registers the file repository under a throw-away HOME for the one call and never
    touches the caller's registrations. The repository folder then holds NwFilter.<version>.nupkg, which
    `Install-PSResource -Repository` installs from (README: "Installing").

.EXAMPLE
    pwsh -NoProfile -File tools/Publish-NwFilterPackage.ps1 -ModulePath out/NwFilter -RepositoryPath out/repository
#>
[CmdletBinding()]
param(
    # The laid-out module folder (out/NwFilter).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # The local file repository to publish into (created when missing).
    [Parameter(Mandatory)]
    [string] $RepositoryPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$module = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
$repository = (New-Item -ItemType Directory -Force -Path $RepositoryPath).FullName
$manifest = Test-ModuleManifest -Path (Join-Path $module 'NwFilter.psd1')
foreach ($field in 'Description', 'Author') {
    if ([string]::IsNullOrWhiteSpace($manifest.$field)) { throw "NwFilter.psd1 has no ${field}: the gallery requires it." }
}

$scratch = Join-Path ([IO.Path]::GetTempPath()) "nwfilter-publish-$([guid]::NewGuid().ToString('n'))"
$saved = @{ HOME = $env:HOME; XDG_DATA_HOME = $env:XDG_DATA_HOME; XDG_CONFIG_HOME = $env:XDG_CONFIG_HOME }
try {
    [void] (New-Item -ItemType Directory -Force -Path $scratch)
    $env:HOME = $scratch; $env:XDG_DATA_HOME = Join-Path $scratch '.local/share'; $env:XDG_CONFIG_HOME = Join-Path $scratch '.config'
    # .NET answers "" for a per-user folder that does not exist, and PSResourceGet then writes under the current folder.
    [void] (New-Item -ItemType Directory -Force -Path $env:XDG_DATA_HOME, $env:XDG_CONFIG_HOME)
    # A fresh process, so that PSResourceGet resolves its per-user paths from the throw-away HOME.
    $exe = [Environment]::ProcessPath
    $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    $quote = { param($s) "'" + ($s -replace "'", "''") + "'" }
    $command = "`$ErrorActionPreference = 'Stop'; Register-PSResourceRepository -Name NwFilterLocal -Uri $(& $quote $repository) -Trusted; " +
               "Publish-PSResource -Path $(& $quote $module) -Repository NwFilterLocal"
    & $exe @pre -NoProfile -NonInteractive -Command $command
    if ($LASTEXITCODE -ne 0) { throw "Publish-PSResource failed (exit code $LASTEXITCODE)." }
}
finally {
    foreach ($k in $saved.Keys) { Set-Item -Path "Env:$k" -Value $saved[$k] -ErrorAction SilentlyContinue; if ($null -eq $saved[$k]) { Remove-Item "Env:$k" -ErrorAction SilentlyContinue } }
    Remove-Item -LiteralPath $scratch -Recurse -Force -ErrorAction SilentlyContinue
}

$package = Join-Path $repository "NwFilter.$($manifest.Version).nupkg"
if (-not (Test-Path -LiteralPath $package)) { throw "Publish-PSResource wrote no $package." }
Get-Item -LiteralPath $package
