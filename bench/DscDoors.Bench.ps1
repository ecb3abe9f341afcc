# Benchmark: one DSC/Ansible resource call (out/nwfilterd/nwfilterctl dsc ...) through nwfilterd's control socket
# against the same call through the pwsh entry (nwfilterctl's fallback: a fresh pwsh running nwfilter.dsc.ps1), per
# operation: filter get, test, set (in the desired state: no change), set (a change every call), binding get, test,
# set (no change), set (a change every call: the parameter IP alternates). Wall time of the whole process, as dsc and
# Ansible see it. Needs root: nwfilterd runs in a throw-away network namespace with empty stores (no other bindings).
# Run by `build.ps1 -Task Bench` (or alone); prints one line per operation for bench/README.md, section "fleet".
param([int] $DaemonCalls = 30, [int] $PwshCalls = 7)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

if (-not $IsLinux -or (& id -u) -ne '0' -or -not (Get-Command ip -CommandType Application -ErrorAction SilentlyContinue)) {
    'dsc-doors: skipped (needs root and ip: nwfilterd runs in a throw-away network namespace)'
    return
}
$repo = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '..'))
$ctl = Join-Path $repo 'out/NwFilter/nwfilterd/nwfilterctl'
$daemonExe = Join-Path $repo 'out/nwfilterd/nwfilterd'
foreach ($f in $ctl, $daemonExe) { if (-not (Test-Path -LiteralPath $f)) { throw "$f is missing: run build.ps1 -Task Layout first." } }

$id = -join ((48..57) + (97..122) | Get-Random -Count 6 | ForEach-Object { [char] $_ })
$ns = "nwfb-$id-$PID-host"
$root = Join-Path ([IO.Path]::GetTempPath()) "nwfilter-bench-dsc-$id"
$saved = @{}
foreach ($k in 'NWFILTER_CONFIG_DIR', 'NWFILTER_STATE_DIR', 'NWFILTER_NETNS', 'NWFILTER_DAEMON', 'NWFILTER_DAEMON_SOCKET', 'NWFILTER_PWSH') { $saved[$k] = [Environment]::GetEnvironmentVariable($k) }
$daemon = $null

function Get-Percentile([double[]] $Values, [double] $P) { ($Values | Sort-Object)[[int][math]::Min($Values.Count - 1, [math]::Floor($Values.Count * $P))] }

function Measure-Call([string] $Door, [string] $Resource, [string] $Operation, [scriptblock] $MakeInput, [int] $Calls) {
    $env:NWFILTER_DAEMON = if ($Door -eq 'nwfilterd') { 'daemon' } else { 'inprocess' }
    $times = foreach ($i in 1..$Calls) {
        $json = & $MakeInput $i
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $out = $json | & $ctl dsc $Resource $Operation 2>&1
        $sw.Stop()
        if ($LASTEXITCODE -ne 0) { throw "nwfilterctl dsc $Resource $Operation through $Door exited with ${LASTEXITCODE}: $out" }
        $sw.Elapsed.TotalMilliseconds
    }
    [pscustomobject]@{ Median = Get-Percentile $times 0.5; P90 = Get-Percentile $times 0.9 }
}

try {
    & ip netns add $ns
    "link set lo up`nlink add vnet0 type veth peer name peer0`nlink set vnet0 up" | & ip -n $ns -batch - | Out-Null
    $env:NWFILTER_CONFIG_DIR = (New-Item -ItemType Directory -Force (Join-Path $root 'config')).FullName
    $env:NWFILTER_STATE_DIR = (New-Item -ItemType Directory -Force (Join-Path $root 'state')).FullName
    $env:NWFILTER_NETNS = $ns
    $bin = New-Item -ItemType Directory -Force (Join-Path $root 'bin')
    $exe = [Environment]::ProcessPath
    $pre = if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { " `"$(Join-Path $PSHOME 'pwsh.dll')`"" } else { '' }
    Set-Content -LiteralPath (Join-Path $bin 'pwsh') -Value "#!/bin/sh`nexec `"$exe`"$pre `"`$@`""
    & chmod +x (Join-Path $bin 'pwsh')
    $env:NWFILTER_PWSH = Join-Path $bin 'pwsh'
    $log = Join-Path $root 'nwfilterd.log'
    $env:NWFILTER_DAEMON_SOCKET = Join-Path $root 'control.sock'
    $daemon = Start-Process -FilePath ip -PassThru -RedirectStandardOutput $log -RedirectStandardError "$log.err" -ArgumentList @(
        'netns', 'exec', $ns, $daemonExe, '--libvirt-socket', (Join-Path $root 'libvirt.sock'), '--control-socket', $env:NWFILTER_DAEMON_SOCKET,
        '--libvirt-binding-dir', (Join-Path $root 'none'))
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    while (-not ((Test-Path $log) -and (Select-String -LiteralPath $log -Pattern '^listening on' -Quiet))) {
        if ([DateTime]::UtcNow -gt $deadline -or $daemon.HasExited) { throw "nwfilterd did not start: $(Get-Content -Raw $log -ErrorAction SilentlyContinue)" }
        Start-Sleep -Milliseconds 100
    }

    $web = { param($Port) @{ name = 'web'; xml = "<filter name='web' chain='root'><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='$Port'/></rule></filter>" } | ConvertTo-Json -Compress }
    $bind = { param($Ip) @{ portDevice = 'vnet0'; macAddress = '52:54:00:7b:35:93'; filter = 'web'; parameters = @{ IP = $Ip } } | ConvertTo-Json -Compress }
    $cases = @(
        @{ Name = 'filter get'; Resource = 'filter'; Operation = 'get'; Input = { '{"name":"web"}' } }
        @{ Name = 'filter test'; Resource = 'filter'; Operation = 'test'; Input = { & $web 22 } }
        @{ Name = 'filter set, no change'; Resource = 'filter'; Operation = 'set'; Input = { & $web 22 } }
        @{ Name = 'filter set, a change'; Resource = 'filter'; Operation = 'set'; Input = { param($i) & $web (1000 + $i) } }
        @{ Name = 'binding get'; Resource = 'binding'; Operation = 'get'; Input = { '{"portDevice":"vnet0"}' } }
        @{ Name = 'binding test'; Resource = 'binding'; Operation = 'test'; Input = { & $bind '10.0.0.5' } }
        @{ Name = 'binding set, no change'; Resource = 'binding'; Operation = 'set'; Input = { & $bind '10.0.0.5' } }
        @{ Name = 'binding set, a change'; Resource = 'binding'; Operation = 'set'; Input = { param($i) & $bind "10.0.0.$(10 + $i)" } }
    )
    # The state every "no change" case expects: the filter and the binding defined once.
    $env:NWFILTER_DAEMON = 'daemon'
    $null = (& $web 22) | & $ctl dsc filter set
    $null = (& $bind '10.0.0.5') | & $ctl dsc binding set
    foreach ($case in $cases) {
        $d = Measure-Call nwfilterd $case.Resource $case.Operation $case.Input $DaemonCalls
        $p = Measure-Call pwsh $case.Resource $case.Operation $case.Input $PwshCalls
        if ($case.Name -like '*a change') {
            # Put the state back for the next "no change" case.
            $env:NWFILTER_DAEMON = 'daemon'
            $null = (& $(if ($case.Resource -eq 'filter') { $web } else { $bind }) $(if ($case.Resource -eq 'filter') { 22 } else { '10.0.0.5' })) | & $ctl dsc $case.Resource set
        }
        'dsc-doors: {0,-24} through nwfilterd median {1,7:0.0} ms (p90 {2,7:0.0}, {3} calls) | through pwsh median {4,7:0.0} ms (p90 {5,7:0.0}, {6} calls)' -f $case.Name, $d.Median, $d.P90, $DaemonCalls, $p.Median, $p.P90, $PwshCalls
    }
}
finally {
    if ($daemon -and -not $daemon.HasExited) { & kill -TERM $daemon.Id; $null = $daemon.WaitForExit(30000) }
    foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
    & ip netns delete $ns 2>$null
    if (Test-Path -LiteralPath $root) { Remove-Item -LiteralPath $root -Recurse -Force }
}
