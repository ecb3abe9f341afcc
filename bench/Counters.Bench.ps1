# Benchmark (root): the per-packet cost of per-rule counters on the nftables backend. A namespace with a bridge and two
# "VMs" (namespaces on veth ports); both ports bound with clean-traffic; 60-byte UDP frames from vm0 to vm1 as fast as
# iperf3 sends them (each frame passes vm0's I chains and vm1's O chains); the rate that arrives, with the bindings
# applied without counters and with them, alternating, median of the rounds. EbIpTables bindings always count (the
# kernel's own xtables counters), so there is nothing to compare there.
# Run by `build.ps1 -Task Bench` (skips without root, iperf3 or nft), or: pwsh bench/Counters.Bench.ps1 [-Rounds 5] [-Seconds 5]
param([int] $Rounds = 5, [int] $Seconds = 5)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

if ((& id -u) -ne '0' -or -not (Get-Command iperf3 -ErrorAction SilentlyContinue) -or -not (Get-Command nft -ErrorAction SilentlyContinue)) {
    'counters: skipped (needs root, iperf3 and nft)'
    return
}
Import-Module (Join-Path $PSScriptRoot '../out/NwFilter/NwFilter.psd1')
$id = "nwfbench-cnt-$PID"
$hostNs = "$id-host"
$state = Join-Path ([IO.Path]::GetTempPath()) $id
$env:NWFILTER_STATE_DIR = Join-Path $state 'state'
$env:NWFILTER_CONFIG_DIR = Join-Path $state 'config'
$env:NWFILTER_NETNS = $hostNs
$env:NWFILTER_DAEMON = 'inprocess'
$env:NWFILTER_COUNTERS = $null
$server = $null
function Invoke-IpBatch([string] $ns, [string] $batch) { $batch | & ip -n $ns -batch -; if ($LASTEXITCODE) { throw "ip -n $ns -batch failed" } }
try {
    & ip netns add $hostNs
    Invoke-IpBatch $hostNs "link set lo up`nlink add br0 type bridge`nlink set br0 up"
    foreach ($i in 0, 1) {
        & ip netns add "$id-vm$i"
        Invoke-IpBatch $hostNs "link add vnet$i type veth peer name eth0 netns $id-vm$i`nlink set vnet$i master br0`nlink set vnet$i up"
        Invoke-IpBatch "$id-vm$i" "link set lo up`nlink set eth0 address 52:54:00:be:00:1$i`naddr add 10.214.0.1$i/24 dev eth0`nlink set eth0 up"
    }
    $server = Start-Process ip -ArgumentList @('netns', 'exec', "$id-vm1", 'iperf3', '-s', '-B', '10.214.0.11') -PassThru -RedirectStandardOutput (Join-Path ([IO.Path]::GetTempPath()) "$id-server.log")
    Start-Sleep -Milliseconds 500

    function Bind([bool] $counters) {
        foreach ($i in 0, 1) {
            Invoke-NwFilterBinding "vnet$i" "52:54:00:be:00:1$i" clean-traffic -Parameter @{ IP = "10.214.0.1$i" } -Backend Nftables -Counters:$counters -Confirm:$false
        }
        $listing = (& ip netns exec $hostNs nft list table bridge nwfilter) -join "`n"
        if ($counters -ne ($listing -match 'counter packets')) { throw "the ruleset does not match -Counters:$counters" }
    }
    function Rate {
        $json = & ip netns exec "$id-vm0" iperf3 -c 10.214.0.11 -u -l 18 -b 0 -t $Seconds --json | ConvertFrom-Json
        $sum = $json.end.sum
        ($sum.packets - $sum.lost_packets) / $sum.seconds
    }
    & ip netns exec "$id-vm0" ping -c 1 -W 2 10.214.0.11 | Out-Null
    $off = [Collections.Generic.List[double]]::new()
    $on = [Collections.Generic.List[double]]::new()
    foreach ($round in 1..$Rounds) {
        Bind $false; $off.Add((Rate))
        Bind $true; $on.Add((Rate))
    }
    $median = { param($xs) $s = @($xs | Sort-Object); $s[[int][math]::Floor($s.Count / 2)] }
    $mOff = & $median $off
    $mOn = & $median $on
    $load = (Get-Content /proc/loadavg).Split(' ')[0]
    'counters: 60-byte UDP vm0 -> vm1 through two clean-traffic ports (nftables), median of {0} x {1} s: without {2:N0} pps, with {3:N0} pps ({4:P1}); rounds off [{5}] on [{6}]; load {7}' -f `
        $Rounds, $Seconds, $mOff, $mOn, (($mOn - $mOff) / $mOff), (($off | ForEach-Object { '{0:N0}' -f $_ }) -join ', '), (($on | ForEach-Object { '{0:N0}' -f $_ }) -join ', '), $load
}
finally {
    Remove-NwFilterBinding * -Confirm:$false -ErrorAction SilentlyContinue
    if ($server) { Stop-Process -Id $server.Id -ErrorAction SilentlyContinue }
    foreach ($ns in $hostNs, "$id-vm0", "$id-vm1") { & ip netns delete $ns 2>$null }
    Remove-Item -Recurse -Force $state -ErrorAction SilentlyContinue
}
