<#
.SYNOPSIS
    Builds, lays out, documents, tests and demonstrates the NwFilter module.

.DESCRIPTION
    Tasks in the shape of an Invoke-Build script, without needing Invoke-Build. A task runs its dependencies
    first, and each task runs at most once per call.

      Clean    removes out/ and the projects' bin/ and obj/ folders
      Build    dotnet build of NwFilter.sln
      Help     writes the MAML help from the cmdlets' XML doc comments (tools/New-MamlHelp.ps1)
      Bridge   builds the forwarding module for a monolithic libvirtd (src/libvirt-bridge) into out/libvirt/
               (libvirt_driver_nwfilter.so, nwfilter-bridge) where gcc, make, pkg-config and libvirt-dev are
               present; elsewhere it prints why it skipped
      Layout   lays the shippable module out in out/NwFilter/ (version stamped from Directory.Build.props),
               the daemon nwfilterd and its DSC/Ansible client nwfilterctl in out/nwfilterd/ and runs Bridge,
               then imports it in a child process and fails if CmdletsToExport differs from the dll's cmdlets
      Test     xunit (dotnet test, counted from its TRX file) and Pester (tests/Pester); the last line printed
               is "N passed, N failed, N skipped" over both (each skip reason is listed above it), and the exit
               code is non-zero if anything failed
      Demo     runs demo/Demo.ps1 against out/NwFilter
      Bench    runs every bench/*.ps1 against out/NwFilter
      Fuzz     runs each fuzz target of tests/NwFilter.Fuzz (filter-xml, binding-xml, value-parser,
               frame-decoder, nft-script) for -FuzzSeconds, printing per target the inputs run, the crashes
               (each with the CsCheck seed that reproduces it) and the known crashes; non-zero exit on a crash.
               The nft-script target needs root, ip and nft (it skips otherwise); outside CI (bench/README.md)
      Package  publishes out/NwFilter as a .nupkg into the local file repository out/repository

.EXAMPLE
    dotnet pwsh -NoProfile -File ./build.ps1 -Task Test

.EXAMPLE
    ./build.ps1 -Task Clean, Layout -Configuration Debug

.EXAMPLE
    ./build.ps1 -Task Fuzz -FuzzSeconds 600 -FuzzTarget frame-decoder, nft-script
#>
[CmdletBinding()]
param(
    # The tasks to run, in order.
    [ValidateSet('Clean', 'Build', 'Help', 'Bridge', 'Layout', 'Test', 'Demo', 'Bench', 'Fuzz', 'Package')]
    [string[]] $Task = 'Layout',

    # The build configuration.
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Fuzz: how long each target runs, in seconds.
    [ValidateRange(1, 86400)]
    [int] $FuzzSeconds = 60,

    # Fuzz: the targets to run (all by default).
    [ValidateSet('filter-xml', 'binding-xml', 'value-parser', 'frame-decoder', 'nft-script')]
    [string[]] $FuzzTarget = @(),

    # Fuzz: reruns one input by the seed a crash printed (with one -FuzzTarget; known crashes then stop the run too).
    [string] $FuzzSeed
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $false   # native exit codes are checked where they matter
if ([Console]::IsOutputRedirected) { $env:NO_COLOR = '1'; $PSStyle.OutputRendering = 'PlainText' }
$env:DOTNET_NOLOGO = '1'
$env:MSBUILDDISABLENODEREUSE = '1'                  # no MSBuild nodes left running after the build

$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleOut = Join-Path $Out 'NwFilter'
$HelpOut = Join-Path $Out 'help'
$ResultsOut = Join-Path $Out 'TestResults'
$BinDir = Join-Path $Root "src/NwFilter/bin/$Configuration/net8.0"
$NotShipped = @('System.Management.Automation.dll')   # compile-time only: pwsh brings its own

#region Task runner

$Tasks = [ordered]@{}
$TaskState = @{}
$script:FinalLine = $null
$script:Failed = $false

function task([string] $Name, [object[]] $Jobs) {
    # task Name [Dependency, ...] [{ action }]: as in Invoke-Build, strings are tasks to run first.
    $Tasks[$Name] = $Jobs
}

function Invoke-Task([string] $Name) {
    if (-not $Tasks.Contains($Name)) { throw "No task '$Name'." }
    switch ($TaskState[$Name]) {
        'done' { return }
        'running' { throw "Task '$Name' depends on itself." }
    }
    $TaskState[$Name] = 'running'
    foreach ($job in $Tasks[$Name]) { if ($job -is [string]) { Invoke-Task $job } }
    Write-Host "-- $Name"
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    foreach ($job in $Tasks[$Name]) { if ($job -is [scriptblock]) { . $job } }
    Write-Host ("-- $Name done in {0:0.0} s" -f $clock.Elapsed.TotalSeconds)
    $TaskState[$Name] = 'done'
}

#endregion

#region Helpers

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)." }
}

function Invoke-Pwsh([string] $File, [string[]] $Arguments = @()) {
    # A child pwsh: the module is loaded there, never in this (possibly long-lived) session.
    $exe = [Environment]::ProcessPath
    $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    & $exe @pre -NoProfile -NonInteractive -File $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$([IO.Path]::GetRelativePath($Root, $File)) failed (exit code $LASTEXITCODE)." }
}

function Get-Version {
    $props = [xml] (Get-Content -Raw -LiteralPath (Join-Path $Root 'Directory.Build.props'))
    $node = $props.SelectSingleNode('/Project/PropertyGroup/VersionPrefix')
    if (-not $node) { throw 'Directory.Build.props has no <VersionPrefix>.' }
    $node.InnerText.Trim()
}

function Get-PesterManifest {
    # Pester comes from NuGet: tests/Pester/Pester.Download.csproj names the version (one place).
    $project = Join-Path $Root 'tests/Pester/Pester.Download.csproj'
    $version = ([xml] (Get-Content -Raw -LiteralPath $project)).SelectSingleNode('//PackageDownload[@Include="Pester"]').Version.Trim('[]')
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    $manifest = Join-Path $packages "pester/$version/tools/Pester.psd1"
    if (-not (Test-Path -LiteralPath $manifest)) {
        Invoke-Native 'Restoring Pester' { dotnet restore $project -v q --nologo }
        if (-not (Test-Path -LiteralPath $manifest)) { throw "Pester $version was restored but $manifest is missing." }
    }
    $manifest
}

function Read-TrxCount([string] $Directory) {
    $files = @(Get-ChildItem -LiteralPath $Directory -Filter *.trx -File -ErrorAction SilentlyContinue)
    if (-not $files) { throw "dotnet test wrote no TRX file in $Directory." }
    $sum = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0; SkipReasons = @{} }
    foreach ($file in $files) {
        $trx = [xml] (Get-Content -Raw -LiteralPath $file.FullName)
        $c = $trx.TestRun.ResultSummary.Counters
        $sum.Passed += [int] $c.passed
        $sum.Failed += [int] $c.failed + [int] $c.error + [int] $c.timeout + [int] $c.aborted
        $sum.Skipped += [int] $c.total - [int] $c.executed
        foreach ($r in @($trx.TestRun.Results.UnitTestResult | Where-Object { $_.outcome -eq 'NotExecuted' })) {
            $reason = "$($r.Output.ErrorInfo.Message)".Trim()
            if (-not $reason) { $reason = '(no reason given)' }
            $sum.SkipReasons[$reason] = 1 + [int] $sum.SkipReasons[$reason]
        }
    }
    [pscustomobject] $sum
}

#endregion

#region Tasks

task Clean {
    foreach ($dir in @($Out) + @(Get-ChildItem -Path (Join-Path $Root 'src/*'), (Join-Path $Root 'tests/*') -Directory |
                ForEach-Object { Join-Path $_.FullName 'bin'; Join-Path $_.FullName 'obj' })) {
        if (Test-Path -LiteralPath $dir) { Remove-Item -LiteralPath $dir -Recurse -Force }
    }
}

task Build {
    # Quiet: MSBuild's closing summary is dropped; warnings (errors here) and errors still show.
    $boilerplate = '^\s*(Build succeeded\.|\d+ (Warning|Error)\(s\)|Time Elapsed .*)?\s*$'
    Invoke-Native 'dotnet build' {
        dotnet build (Join-Path $Root 'NwFilter.sln') -c $Configuration -v q -nologo 2>&1 | Where-Object { "$_" -notmatch $boilerplate }
    }
}

task Help Build, {
    Invoke-Pwsh (Join-Path $Root 'tools/New-MamlHelp.ps1') @(
        '-ModulePath', (Join-Path $BinDir 'NwFilter.dll')
        '-OutputPath', (Join-Path $HelpOut 'NwFilter.dll-Help.xml')
        '-RelatedLink', 'about_NwFilter')
}

task Bridge {
    # libvirt's nwfilter driver replaced by a forwarder to nwfilterd, for Debian 12's monolithic libvirtd
    # (docs/design/libvirt-daemon.md, "The monolithic bridge"). Built per libvirt release: it binds libvirt's private
    # symbols of the release whose headers it finds.
    $bridgeOut = Join-Path $Out 'libvirt'
    $missing = @(foreach ($tool in 'gcc', 'make', 'pkg-config', 'objdump') {
            if (-not (Get-Command $tool -CommandType Application -ErrorAction SilentlyContinue)) { $tool } })
    if (-not $missing) {
        & pkg-config --exists libvirt 2>$null
        if ($LASTEXITCODE -ne 0) { $missing = @("libvirt's headers (pkg-config libvirt: libvirt-dev)") }
    }
    if ($missing) {
        Write-Host "Bridge: skipped, $($missing -join ', ') not found (out/libvirt is not built)."
        return
    }
    if (Test-Path -LiteralPath $bridgeOut) { Remove-Item -LiteralPath $bridgeOut -Recurse -Force }
    Invoke-Native 'make (src/libvirt-bridge)' {
        make --no-print-directory -s -C (Join-Path $Root 'src/libvirt-bridge') "OUT=$bridgeOut" "CC=gcc" 2>&1
    }
    Write-Host "Bridge: out/libvirt/libvirt_driver_nwfilter.so for libvirt $(& pkg-config --modversion libvirt), out/libvirt/nwfilter-bridge"
}

task Layout Build, Help, Bridge, {
    if (Test-Path -LiteralPath $ModuleOut) { Remove-Item -LiteralPath $ModuleOut -Recurse -Force }
    $enUS = New-Item -ItemType Directory -Force -Path (Join-Path $ModuleOut 'en-US')

    Get-ChildItem -LiteralPath $BinDir -Filter *.dll -File | Where-Object Name -NotIn $NotShipped |
        Copy-Item -Destination $ModuleOut
    Get-ChildItem -LiteralPath (Join-Path $Root 'formats') -Filter *.ps1xml -File | Copy-Item -Destination $ModuleOut
    Get-ChildItem -LiteralPath (Join-Path $Root 'en-US') -Filter about_*.help.txt -File | Copy-Item -Destination $enUS
    Copy-Item -LiteralPath (Join-Path $HelpOut 'NwFilter.dll-Help.xml') -Destination $enUS
    # The DSC v3 command resources (docs/design/state.md): their manifests and the one dispatcher they run.
    Copy-Item -Path (Join-Path $Root 'dsc/*.dsc.resource.json'), (Join-Path $Root 'dsc/nwfilter.dsc.ps1') -Destination $ModuleOut
    Copy-Item -LiteralPath (Join-Path $Root 'LICENSE') -Destination $ModuleOut

    # nwfilterd (docs/design/libvirt-daemon.md): the daemon host with its apphost, out/nwfilterd/nwfilterd.
    $daemonOut = Join-Path $Out 'nwfilterd'
    if (Test-Path -LiteralPath $daemonOut) { Remove-Item -LiteralPath $daemonOut -Recurse -Force }
    Copy-Item -LiteralPath (Join-Path $Root "src/nwfilterd/bin/$Configuration/net10.0") -Destination $daemonOut -Recurse
    if (-not (Test-Path -LiteralPath (Join-Path $daemonOut 'nwfilterd'))) { throw "out/nwfilterd has no nwfilterd launcher." }
    # nwfilterctl beside it (docs/design/state.md, "Through nwfilterd"): the DSC resources' and Ansible modules' client,
    # out/nwfilterd/nwfilterctl and NwFilter/nwfilterd/nwfilterctl (the manifests run it); the same build's core.
    Copy-Item -Path (Join-Path $Root "src/nwfilterctl/bin/$Configuration/net10.0/*") -Destination $daemonOut -Recurse -Force
    if (-not (Test-Path -LiteralPath (Join-Path $daemonOut 'nwfilterctl'))) { throw "out/nwfilterd has no nwfilterctl launcher." }
    # The module package carries the daemon and its systemd units too (README "Installing"): NwFilter/nwfilterd/ (no
    # .pdb/.xml, its own copy of the core) and NwFilter/systemd/, so a host installs both from Install-PSResource NwFilter.
    $shipped = New-Item -ItemType Directory -Force -Path (Join-Path $ModuleOut 'nwfilterd')
    Get-ChildItem -LiteralPath $daemonOut -File | Where-Object Extension -NotIn '.pdb', '.xml' | Copy-Item -Destination $shipped
    $units = New-Item -ItemType Directory -Force -Path (Join-Path $ModuleOut 'systemd')
    Get-ChildItem -LiteralPath (Join-Path $Root 'contrib/systemd') -File | Copy-Item -Destination $units

    # The one version source: stamp <VersionPrefix> into the laid-out manifest.
    $version = Get-Version
    $source = Get-Content -Raw -LiteralPath (Join-Path $Root 'NwFilter.psd1')
    $pattern = "(?m)^(\s*ModuleVersion\s*=\s*)'[^']*'"
    if ($source -notmatch $pattern) { throw "NwFilter.psd1 has no ModuleVersion = '...' line to stamp." }
    $stamped = [regex]::Replace($source, $pattern, "`${1}'$version'")
    [IO.File]::WriteAllText((Join-Path $ModuleOut 'NwFilter.psd1'), $stamped, [Text.UTF8Encoding]::new($false))

    # Import what was laid out, in a child process, and hold the manifest to the dll's cmdlet classes.
    Invoke-Pwsh (Join-Path $Root 'tools/Test-ModuleLayout.ps1') @('-Path', $ModuleOut)
}

task Test Layout, {
    $corpus = [IO.Path]::GetFullPath((Join-Path $Root '../shared/libvirt-nwfilter'))
    if (-not $env:NWFILTER_LIBVIRT_CORPUS -and (Test-Path -LiteralPath $corpus)) { $env:NWFILTER_LIBVIRT_CORPUS = $corpus }
    if (Test-Path -LiteralPath $ResultsOut) { Remove-Item -LiteralPath $ResultsOut -Recurse -Force }
    $xunitDir = New-Item -ItemType Directory -Force -Path (Join-Path $ResultsOut 'xunit')

    # xunit: counted from the TRX files, not from console text.
    dotnet test (Join-Path $Root 'NwFilter.sln') -c $Configuration --no-build -v q --nologo `
        --logger trx --logger 'console;verbosity=minimal' --results-directory $xunitDir.FullName
    $xunitExit = $LASTEXITCODE
    $xunit = Read-TrxCount $xunitDir.FullName
    if ($xunitExit -ne 0 -and $xunit.Failed -eq 0) {
        Write-Warning "dotnet test exited with $xunitExit although its TRX files count no failure; counting one."
        $xunit.Failed = 1
    }

    # Pester: in a child pwsh, over the module as laid out.
    $pesterJson = Join-Path $ResultsOut 'pester.json'
    $pesterExit = 0
    try {
        Invoke-Pwsh (Join-Path $Root 'tools/Invoke-PesterSuite.ps1') @(
            '-PesterManifest', (Get-PesterManifest)
            '-Path', (Join-Path $Root 'tests/Pester')
            '-ResultDirectory', $ResultsOut)
    }
    catch { Write-Warning $_.Exception.Message; $pesterExit = 1 }
    $pester = if (Test-Path -LiteralPath $pesterJson) { Get-Content -Raw -LiteralPath $pesterJson | ConvertFrom-Json }
              else { [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }   # the run itself broke
    if ($pesterExit -ne 0 -and $pester.Failed -eq 0) { $pester.Failed = 1 }

    # Why tests skipped (a resource absent here: see tests/NwFilter.Core.Tests/TestSupport/Requirement.cs).
    foreach ($reason in @($xunit.SkipReasons.Keys | Sort-Object)) {
        Write-Host ("xunit skipped {0,4}: {1}" -f $xunit.SkipReasons[$reason], $reason)
    }
    Write-Host ("xunit:  {0} passed, {1} failed, {2} skipped" -f $xunit.Passed, $xunit.Failed, $xunit.Skipped)
    Write-Host ("Pester: {0} passed, {1} failed, {2} skipped" -f $pester.Passed, $pester.Failed, $pester.Skipped)
    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    $skipped = $xunit.Skipped + $pester.Skipped
    $script:FinalLine = "$passed passed, $failed failed, $skipped skipped"
    $script:Failed = $failed -gt 0
}

task Demo Layout, {
    Invoke-Pwsh (Join-Path $Root 'demo/Demo.ps1')
}

task Bench Layout, {
    $scripts = @(Get-ChildItem -Path (Join-Path $Root 'bench/*.ps1') -File | Sort-Object Name)
    if (-not $scripts) { Write-Host 'No benchmark scripts in bench/.' }
    foreach ($s in $scripts) { Invoke-Pwsh $s.FullName }
}

task Fuzz Build, {
    $fuzz = Join-Path $Root "tests/NwFilter.Fuzz/bin/$Configuration/net10.0/NwFilter.Fuzz.dll"
    $arguments = @('-seconds', $FuzzSeconds)
    if ($FuzzTarget) { $arguments += '-target', ($FuzzTarget -join ',') }
    if ($FuzzSeed) {
        if ($FuzzTarget.Count -ne 1) { throw '-FuzzSeed reruns one target: give exactly one -FuzzTarget.' }
        $arguments = @('-target', $FuzzTarget[0], '-seed', $FuzzSeed, '-iterations', 1, '-known', 'stop')
    }
    Invoke-Native 'Fuzz' { dotnet $fuzz @arguments }
}

task Package Layout, {
    # A gallery package: the laid-out module published as a .nupkg into a local file repository (out/repository),
    # from which `Install-PSResource NwFilter -Repository ...` installs it (README: Installing).
    $manifest = Join-Path $ModuleOut 'NwFilter.psd1'
    $origin = & git -C $Root remote get-url origin 2>$null
    $uri = if ($LASTEXITCODE -eq 0 -and $origin) { $origin.Trim() -replace '^git@([^:]+):', 'https://$1/' -replace '\.git$', '' }
    if ($uri -match '^https?://') {
        $text = Get-Content -Raw -LiteralPath $manifest
        $text = $text -replace "(?m)^(\s*)(LicenseUri\s*=)", "`${1}ProjectUri   = '$uri'`n`${1}`${2}"
        [IO.File]::WriteAllText($manifest, $text, [Text.UTF8Encoding]::new($false))
    }
    else { Write-Warning 'No web origin remote: the package carries no ProjectUri (the gallery shows none).' }
    $repository = Join-Path $Out 'repository'
    Invoke-Pwsh (Join-Path $Root 'tools/Publish-NwFilterPackage.ps1') @('-ModulePath', $ModuleOut, '-RepositoryPath', $repository)
    Write-Host "Package: $([IO.Path]::GetRelativePath($Root, (Join-Path $repository "NwFilter.$(Get-Version).nupkg")))"
}

#endregion

try {
    foreach ($name in $Task) { Invoke-Task $name }
}
catch {
    [Console]::Error.WriteLine("build.ps1: $($_.Exception.Message)")
    exit 1
}
if ($script:FinalLine) { Write-Host $script:FinalLine }
if ($script:Failed) { exit 1 }
