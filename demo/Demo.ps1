# The NwFilter demonstration, run by `build.ps1 -Task Demo` against the module as laid out in out/NwFilter.
# It works in a throw-away filter store, so it never changes the host's /etc/nwfilter.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'

function Write-Step([string] $Text) { "`n=== $Text ===" }

$module = Import-Module (Join-Path $PSScriptRoot '../out/NwFilter/NwFilter.psd1') -PassThru -Force
"NwFilter $($module.Version): $(@(Get-Command -Module NwFilter).Count) cmdlets"

$work = Join-Path ([IO.Path]::GetTempPath()) ('nwfilter-demo-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$saved = $env:NWFILTER_CONFIG_DIR, $env:NWFILTER_STATE_DIR
$env:NWFILTER_CONFIG_DIR = New-Item -ItemType Directory -Path (Join-Path $work 'config') | ForEach-Object FullName
$env:NWFILTER_STATE_DIR = New-Item -ItemType Directory -Path (Join-Path $work 'state') | ForEach-Object FullName
try {
    Write-Step "The seed's example filters as objects: built-ins no-arp-spoofing and clean-traffic, and test-eth0 from its XML file"
    $testEth0 = ConvertFrom-NwFilterXml -Path (Join-Path $PSScriptRoot 'filters/test-eth0.xml')
    @(Get-NwFilter -Name no-arp-spoofing, clean-traffic) + $testEth0 | Format-Table | Out-String -Width 160

    Write-Step 'clean-traffic refers to other filters; each has its own chain and priority'
    Get-NwFilter -Name clean-traffic | ForEach-Object References | ForEach-Object { Get-NwFilter -Name $_.Filter } |
        Format-Table | Out-String -Width 160

    Write-Step "The seed's no-arp-spoofing filter as libvirt's canonical XML"
    Get-NwFilter -Name no-arp-spoofing | ConvertTo-NwFilterXml

    Write-Step 'test-eth0 as canonical XML: comments dropped, priorities and chain made explicit'
    $testEth0 | ConvertTo-NwFilterXml

    Write-Step 'The same filter built with cmdlets alone, stored, and listed'
    Set-NwFilter -Name test-eth0 -FilterRef clean-traffic -Rule @(
        New-NwFilterRule -Action accept -Direction in -Protocol tcp -DstPortStart 22
        New-NwFilterRule -Action accept -Direction in -Protocol tcp -DstPortStart 80
        New-NwFilterRule -Action accept -Direction out -Protocol icmp
        New-NwFilterRule -Action drop -Direction inout -Protocol all
    ) -PassThru | Format-Table | Out-String -Width 160
    $same = (Get-NwFilter test-eth0 | ConvertTo-NwFilterXml) -replace '(?m)^  <uuid>.*\n', ''
    $fromFile = ($testEth0 | ConvertTo-NwFilterXml) -replace '(?m)^  <uuid>.*\n', ''
    "Built with cmdlets equals the seed's XML (uuid aside): $($same -eq $fromFile)"

    Write-Step 'A typo in an attribute is refused, naming the place, instead of silently widening the rule'
    "<filter name='typo'><rule action='accept' direction='in'><tcp dstporttstart='22'/></rule></filter>" |
        ConvertFrom-NwFilterXml -ErrorAction SilentlyContinue -ErrorVariable problems | Out-Null
    $problems | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" }

    Write-Step 'Test-NwFilter checks a filter with its whole reference tree'
    Test-NwFilter -Name test-eth0 | Format-List | Out-String -Width 160
}
finally {
    $env:NWFILTER_CONFIG_DIR, $env:NWFILTER_STATE_DIR = $saved
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
