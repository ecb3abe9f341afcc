# Benchmark: the filter store through the cmdlets, each measured in fresh pwsh processes against out/NwFilter.
#   list-5000  Get-NwFilter over a store of 5,000 filters (plus the 24 built-ins): first call in a fresh process
#              (every file parsed) and second call (parsed-file cache). Target: < 0.5 s.
#   set-1000   Set-NwFilter defining 1,000 filters from the pipeline into an empty store.
# Run by `build.ps1 -Task Bench`; prints one result line per scenario for the table in bench/README.md.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$manifest = Join-Path $PSScriptRoot '../out/NwFilter/NwFilter.psd1'
$exe = [Environment]::ProcessPath
$pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
$runs = 3
$root = Join-Path ([IO.Path]::GetTempPath()) ('nwfilter-bench-' + [guid]::NewGuid().ToString('N').Substring(0, 8))

function Invoke-Fresh([string] $ConfigDir, [string] $Probe) {
    # Runs $Probe in a fresh pwsh with the module imported and the store at $ConfigDir; returns its output lines.
    $env:NWFILTER_CONFIG_DIR = $ConfigDir
    $env:NWFILTER_STATE_DIR = Join-Path $root 'state'
    & $exe @pre -NoProfile -NonInteractive -Command "Import-Module '$manifest'; $Probe"
}

function Get-Median([double[]] $Values) { ($Values | Sort-Object)[[int][math]::Floor($Values.Count / 2)] }

try {
    # A store of 5,000 filters, each the size of the seed's test-eth0 (a filterref and four rules).
    $list = Join-Path $root 'list'
    [void] (New-Item -ItemType Directory -Force $list)
    $template = @"
<filter name='NAME' chain='root'>
  <uuid>UUID</uuid>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'>
    <tcp dstportstart='22'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <tcp dstportstart='80'/>
  </rule>
  <rule action='accept' direction='out' priority='500'>
    <icmp/>
  </rule>
  <rule action='drop' direction='inout' priority='500'>
    <all/>
  </rule>
</filter>

"@
    foreach ($i in 1..5000) {
        $name = 'vm{0:D5}-eth0' -f $i
        [IO.File]::WriteAllText((Join-Path $list "$name.xml"), $template.Replace('NAME', $name).Replace('UUID', [guid]::NewGuid()))
    }
    Start-Sleep -Seconds 3   # older than the cache's settle time, as a store's files normally are

    $probe = '$c = [Diagnostics.Stopwatch]::StartNew(); $n = @(Get-NwFilter).Count; $first = $c.Elapsed.TotalMilliseconds; ' +
             '$c.Restart(); $null = @(Get-NwFilter); "$n $first $($c.Elapsed.TotalMilliseconds)"'
    $cold = @(); $warm = @(); $count = 0
    foreach ($run in 1..$runs) {
        $count, $c, $w = (Invoke-Fresh $list $probe) -split ' '
        $cold += [double] $c; $warm += [double] $w
    }
    'list-5000: Get-NwFilter of {0} filters: first call {1:0} ms, second call {2:0} ms (medians of {3} fresh processes)' -f $count, (Get-Median $cold), (Get-Median $warm), $runs

    # (a) FilterDefinition objects piped into one Set-NwFilter; (b) one Set-NwFilter call per filter, from parameters.
    $probe = '$defs = @(1..1000 | ForEach-Object { "<filter name=''f$_''><filterref filter=''clean-traffic''/><rule action=''accept'' direction=''in''><tcp dstportstart=''22''/></rule></filter>" } | ConvertFrom-NwFilterXml); ' +
             '$c = [Diagnostics.Stopwatch]::StartNew(); $defs | Set-NwFilter; $piped = $c.Elapsed.TotalMilliseconds; ' +
             '$rule = New-NwFilterRule accept in tcp -DstPortStart 22; ' +
             '$c.Restart(); foreach ($i in 1..1000) { Set-NwFilter -Name "g$i" -FilterRef clean-traffic -Rule $rule }; $calls = $c.Elapsed.TotalMilliseconds; ' +
             '"$(@(Get-ChildItem $env:NWFILTER_CONFIG_DIR -Filter *.xml).Count) $piped $calls"'
    $piped = @(); $calls = @(); $written = 0
    foreach ($run in 1..$runs) {
        $written, $p, $c = (Invoke-Fresh (Join-Path $root "set$run") $probe) -split ' '
        $piped += [double] $p; $calls += [double] $c
    }
    'set-1000: Set-NwFilter of 1,000 filters into an empty store: {0:0} ms piped, {1:0} ms as 1,000 calls ({2} files; medians of {3} fresh processes)' -f (Get-Median $piped), (Get-Median $calls), $written, $runs
}
finally {
    Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
}
