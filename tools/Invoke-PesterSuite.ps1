<#
.SYNOPSIS
    Runs the Pester tests and writes their counts to <ResultDirectory>/pester.json (and NUnit XML beside it).

.DESCRIPTION
    Run by `build.ps1 -Task Test` in a child pwsh, so that the module under test is never loaded into the build's
    own session. Failed blocks and containers (a BeforeAll that throws, a file that does not parse) count as
    failures: a test that never ran is not a pass.

.EXAMPLE
    pwsh -NoProfile -File tools/Invoke-PesterSuite.ps1 -PesterManifest ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1 -Path tests/Pester -ResultDirectory out/TestResults
#>
[CmdletBinding()]
param(
    # Pester.psd1 to import.
    [Parameter(Mandatory)]
    [string] $PesterManifest,

    # Folder or files holding *.Tests.ps1.
    [Parameter(Mandatory)]
    [string[]] $Path,

    # Where pester.json and pester.xml are written.
    [Parameter(Mandatory)]
    [string] $ResultDirectory,

    # Pester's output verbosity.
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $Verbosity = 'Normal'
)

$ErrorActionPreference = 'Stop'
Import-Module $PesterManifest -Force
[void] (New-Item -ItemType Directory -Force -Path $ResultDirectory)

$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Run.Exit = $false
$config.Output.Verbosity = $Verbosity
if ($env:NO_COLOR) { $config.Output.RenderMode = 'Plaintext' }
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = Join-Path $ResultDirectory 'pester.xml'

$result = Invoke-Pester -Configuration $config
[pscustomobject]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount + $result.NotRunCount
} | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $ResultDirectory 'pester.json')
