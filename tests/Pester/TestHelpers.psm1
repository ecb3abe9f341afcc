# Shared by every *.Tests.ps1: the module as laid out in out/NwFilter, and a fresh store per test file.
#
#   BeforeAll {
#       Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
#       $script:Env = Initialize-NwFilterTestEnvironment      # imports out/NwFilter, sets the store's env vars
#   }
#   AfterAll { Remove-NwFilterTestEnvironment $script:Env }    # restores the env vars, deletes the temp dir

Set-StrictMode -Version Latest

function Get-NwFilterRepositoryRoot {
    [OutputType([string])]
    param()
    [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
}

function Get-NwFilterModulePath {
    # The laid-out module folder: out/NwFilter (build.ps1 -Task Layout makes it).
    [OutputType([string])]
    param()
    Join-Path (Get-NwFilterRepositoryRoot) 'out/NwFilter'
}

function Import-NwFilterModule {
    [OutputType([psmoduleinfo])]
    param()
    $manifest = Join-Path (Get-NwFilterModulePath) 'NwFilter.psd1'
    if (-not (Test-Path -LiteralPath $manifest)) { throw "$manifest is missing: run ./build.ps1 -Task Layout first." }
    Import-Module $manifest -Force -PassThru -Global -ErrorAction Stop
}

function Initialize-NwFilterTestEnvironment {
    # Imports the module and points NWFILTER_CONFIG_DIR and NWFILTER_STATE_DIR at new, empty temp folders.
    param()
    $previous = @{
        NWFILTER_CONFIG_DIR = $env:NWFILTER_CONFIG_DIR
        NWFILTER_STATE_DIR  = $env:NWFILTER_STATE_DIR
    }
    $dir = Join-Path ([IO.Path]::GetTempPath()) ('nwfilter-test-' + [guid]::NewGuid().ToString('N').Substring(0, 12))
    $config = New-Item -ItemType Directory -Force -Path (Join-Path $dir 'config')
    $state = New-Item -ItemType Directory -Force -Path (Join-Path $dir 'state')
    $env:NWFILTER_CONFIG_DIR = $config.FullName
    $env:NWFILTER_STATE_DIR = $state.FullName
    [pscustomobject]@{
        Module    = Import-NwFilterModule
        Root      = Get-NwFilterRepositoryRoot
        TempDir   = $dir
        ConfigDir = $config.FullName
        StateDir  = $state.FullName
        Previous  = $previous
    }
}

function Remove-NwFilterTestEnvironment {
    param([Parameter(Mandatory)] [object] $Environment)
    foreach ($name in $Environment.Previous.Keys) {
        [Environment]::SetEnvironmentVariable($name, $Environment.Previous[$name])
    }
    if (Test-Path -LiteralPath $Environment.TempDir) { Remove-Item -LiteralPath $Environment.TempDir -Recurse -Force }
}

Export-ModuleMember -Function Get-NwFilterRepositoryRoot, Get-NwFilterModulePath, Import-NwFilterModule,
    Initialize-NwFilterTestEnvironment, Remove-NwFilterTestEnvironment
