# The NwFilter demonstration, run by `build.ps1 -Task Demo` against the module as laid out in out/NwFilter.
#
#  1. The filters: the built-in clean-traffic and no-arp-spoofing, and the seed's test-eth0 (demo/filters), as objects
#     and as libvirt XML.
#  2. As root with the firewall tools: a throw-away lab of network namespaces (a host with bridge br0, two VMs on veth
#     ports vnet0 and vnet1), test-eth0 bound to vnet0 and clean-traffic to vnet1, the rules installed, real packets
#     (the VMs' own traffic passes, forged packets are dropped); then, with dnsmasq on the bridge, db's binding learns
#     its address by DHCP snooping (a learning job, its events), and everything is removed again.
#     Otherwise: the exact plan Invoke-NwFilterBinding would run (-WhatIf).
# Nothing outside the demo's own namespaces and temporary folders is touched.
[CmdletBinding()]
param(
    # Show the plan (-WhatIf) even when running as root.
    [switch] $PlanOnly
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $false

$module = Import-Module (Join-Path $PSScriptRoot '../out/NwFilter/NwFilter.psd1') -PassThru -Force
$work = Join-Path ([IO.Path]::GetTempPath()) "nwfilter-demo-$PID"
$previous = @{ NWFILTER_CONFIG_DIR = $env:NWFILTER_CONFIG_DIR; NWFILTER_STATE_DIR = $env:NWFILTER_STATE_DIR; NWFILTER_NETNS = $env:NWFILTER_NETNS }
$env:NWFILTER_CONFIG_DIR = Join-Path $work 'config'
$env:NWFILTER_STATE_DIR = Join-Path $work 'state'

function Show([string] $Title) { Write-Host ''; Write-Host "== $Title" -ForegroundColor Cyan }
function Note([string] $Text) { Write-Host "   $Text" }

function Test-KernelDemo {
    if (-not $IsLinux -or (& id -u) -ne '0') { return 'not running as root' }
    $missing = @('ip', 'ebtables-restore', 'iptables-restore', 'nft', 'busybox', 'ping') |
        Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction SilentlyContinue) }
    if ($missing) { return "missing $($missing -join ', ')" }
    $null
}

function Invoke-Ip([string] $Namespace, [string[]] $Lines) {
    $options = if ($Namespace) { @('-n', $Namespace) } else { @() }
    $Lines -join "`n" | & ip @options -batch - 2>&1 | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "ip -batch failed in $Namespace" }
}

function In([string] $Namespace) { , @('ip', 'netns', 'exec', $Namespace) }

function Test-Ping([string] $Namespace, [string] $Address, [string[]] $Extra = @()) {
    $out = & ip netns exec $Namespace ping -n -q -c 3 -i 0.2 -W 1 @Extra $Address 2>&1
    $received = if ("$out" -match '(\d+) (packets )?received') { [int] $Matches[1] } else { 0 }
    "$received of 3 replies"
}

function Test-Tcp([string] $From, [string] $To, [string] $Address, [int] $Port) {
    $listener = Start-Process -FilePath ip -ArgumentList @('netns', 'exec', $To, 'busybox', 'nc', '-l', '-p', $Port) -PassThru -RedirectStandardOutput (Join-Path $work "nc-$Port.out")
    try {
        Start-Sleep -Milliseconds 300
        'hello' | & ip netns exec $From busybox nc -w 1 $Address $Port 2>&1 | Out-Null
        Start-Sleep -Milliseconds 200
        if ((Get-Content -Raw (Join-Path $work "nc-$Port.out") -ErrorAction SilentlyContinue) -match 'hello') { 'connects' } else { 'is dropped' }
    }
    finally { Stop-Process -Id $listener.Id -Force -ErrorAction SilentlyContinue }
}

try {
    New-Item -ItemType Directory -Force -Path $env:NWFILTER_CONFIG_DIR, $env:NWFILTER_STATE_DIR | Out-Null
    "NwFilter $($module.Version): $(@(Get-Command -Module NwFilter).Count) cmdlets"

    Show 'The filters: built-in clean-traffic and no-arp-spoofing, and the seed''s test-eth0'
    Set-NwFilter -Path (Join-Path $PSScriptRoot 'filters/test-eth0.xml')
    Get-NwFilter clean-traffic, no-arp-spoofing, test-eth0 | Format-Table -AutoSize | Out-String -Width 120
    Note 'test-eth0 as a list: each rule on one line, as one says it:'
    Get-NwFilter test-eth0 | Format-List | Out-String -Width 120
    Note 'test-eth0 as libvirt XML (virsh nwfilter-dumpxml prints the same):'
    Get-NwFilter test-eth0 | ConvertTo-NwFilterXml
    Note 'no-arp-spoofing as libvirt XML:'
    Get-NwFilter no-arp-spoofing | ConvertTo-NwFilterXml

    Show 'The same test-eth0 built with cmdlets alone, without writing XML'
    $built = Set-NwFilter -Name test-eth0-built -FilterRef clean-traffic -PassThru -Rule @(
        New-NwFilterRule -Action accept -Direction in -Protocol tcp -DstPortStart 22
        New-NwFilterRule -Action accept -Direction in -Protocol tcp -DstPortStart 80
        New-NwFilterRule -Action accept -Direction out -Protocol icmp
        New-NwFilterRule -Action drop -Direction inout -Protocol all
    )
    $canonical = { param($f) (ConvertTo-NwFilterXml $f) -replace "name='[^']*'", '' -replace '(?m)^  <uuid>.*\n', '' }
    Note "Equal to the seed's XML, name and uuid aside: $((& $canonical $built) -eq (& $canonical (Get-NwFilter test-eth0)))"

    Show 'A typo in an attribute name is refused, naming the place, rather than silently widening the rule'
    "<filter name='typo'><rule action='accept' direction='in'><tcp dstporttstart='22'/></rule></filter>" |
        ConvertFrom-NwFilterXml -ErrorAction SilentlyContinue -ErrorVariable problems | Out-Null
    $problems | ForEach-Object { Note "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" }

    Show 'What test-eth0 resolves to for a VM with MAC 52:54:00:de:00:10 and IP 10.214.0.10'
    Resolve-NwFilter test-eth0 -MacAddress 52:54:00:de:00:10 -Parameter @{ IP = '10.214.0.10' } | Format-Table | Out-String -Width 140

    $why = if ($PlanOnly) { '-PlanOnly' } else { Test-KernelDemo }
    if ($why) {
        # As root, -PlanOnly aims at a namespace that does not exist, so not even the host's firewall is read.
        if ($PlanOnly) { $env:NWFILTER_NETNS = "nwfdemo-$PID-none" }
        Show "The plan, without applying it (${why}: -WhatIf)"
        Invoke-NwFilterBinding -PortDevice vnet0 -MacAddress 52:54:00:de:00:10 -Filter test-eth0 -Parameter @{ IP = '10.214.0.10' } -WhatIf
        return
    }

    Show 'A throw-away lab: namespace host with bridge br0 (10.214.0.1), VMs web (vnet0) and db (vnet1)'
    $lab = "nwfdemo-$PID"
    $hostNs, $web, $db = "$lab-host", "$lab-web", "$lab-db"
    Invoke-Ip $null @("netns add $hostNs", "netns add $web", "netns add $db")
    Invoke-Ip $hostNs @('link set lo up', 'link add br0 type bridge stp_state 0 forward_delay 0', 'addr add 10.214.0.1/24 dev br0',
        "link add vnet0 type veth peer name eth0 netns $web", "link add vnet1 type veth peer name eth0 netns $db",
        'link set vnet0 master br0', 'link set vnet1 master br0', 'link set vnet0 up', 'link set vnet1 up', 'link set br0 up')
    Invoke-Ip $web @('link set lo up', 'link set eth0 address 52:54:00:de:00:10', 'addr add 10.214.0.10/24 dev eth0', 'link set eth0 up')
    Invoke-Ip $db @('link set lo up', 'link set eth0 address 52:54:00:de:00:11', 'addr add 10.214.0.11/24 dev eth0', 'link set eth0 up')
    & ip netns exec $hostNs sysctl -q -w net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
    $env:NWFILTER_NETNS = $hostNs
    Note "NWFILTER_NETNS=${hostNs}: the binding cmdlets drive that namespace's firewall."
    Note "Before binding: db pings web: $(Test-Ping $db 10.214.0.10); TCP 8080 to web $(Test-Tcp $db $web 10.214.0.10 8080)."

    Show 'Binding test-eth0 to vnet0 (web) and clean-traffic to vnet1 (db), together'
    Note 'nftables is the default backend; these two bindings name libvirt''s own (-Backend EbIpTables), to show the rules libvirt would install. IP learning below runs on the default.'
    @(
        [pscustomobject]@{ PortDevice = 'vnet0'; MacAddress = '52:54:00:de:00:10'; Filter = 'test-eth0'; Parameter = @{ IP = '10.214.0.10' }; Owner = 'web' }
        [pscustomobject]@{ PortDevice = 'vnet1'; MacAddress = '52:54:00:de:00:11'; Filter = 'clean-traffic'; Parameter = @{ IP = '10.214.0.11' }; Owner = 'db' }
    ) | Invoke-NwFilterBinding -Backend EbIpTables -Confirm:$false -Verbose
    Get-NwFilterBinding | Format-Table -AutoSize | Out-String -Width 120
    Note 'vnet1''s binding, every property (the MAC and parameters as one writes them):'
    Get-NwFilterBinding vnet1 | Format-List * | Out-String -Width 120
    Note 'vnet1''s binding as libvirt XML (virsh nwfilter-binding-dumpxml):'
    Get-NwFilterBinding vnet1 | ConvertTo-NwFilterXml

    Show 'The rules installed (libvirt''s chains, as ebtables-save and iptables-save print them)'
    & ip netns exec $hostNs ebtables-save -t nat | Where-Object { $_ -match 'vnet1' }
    & ip netns exec $hostNs iptables-save -t filter | Where-Object { $_ -match 'vnet0' -and $_ -notmatch '^#' }
    Test-NwFilterBinding | Format-Table -AutoSize | Out-String -Width 120

    Show 'Real packets'
    Note "db (clean-traffic) pings the host with its own MAC and IP:   $(Test-Ping $db 10.214.0.1)"
    & ip -n $db link set eth0 address 52:54:00:66:66:66
    Note "db pings the host with a forged source MAC:                 $(Test-Ping $db 10.214.0.1)  (dropped)"
    & ip -n $db link set eth0 address 52:54:00:de:00:11
    & ip -n $hostNs neigh flush dev br0
    & ip -n $db addr add 10.214.0.99/32 dev eth0
    Note "db pings the host from a forged source IP 10.214.0.99:      $(Test-Ping $db 10.214.0.1 @('-I', '10.214.0.99'))  (dropped)"
    & ip -n $db addr del 10.214.0.99/32 dev eth0
    Note "db pings the host with its own MAC and IP again:            $(Test-Ping $db 10.214.0.1)"
    Note "web (test-eth0): TCP 22 from db $(Test-Tcp $db $web 10.214.0.10 22); TCP 80 $(Test-Tcp $db $web 10.214.0.10 80); TCP 8080 $(Test-Tcp $db $web 10.214.0.10 8080)"
    Note "web pings db: $(Test-Ping $web 10.214.0.11); db pings web: $(Test-Ping $db 10.214.0.10) (test-eth0 lets ICMP out only)"

    if (Get-Command dnsmasq -CommandType Application -ErrorAction SilentlyContinue) {
        Show 'IP address learning on the nftables default: db without a configured address, clean-traffic with CTRL_IP_LEARNING=dhcp, dnsmasq on br0'
        $dnsmasq = Start-Process -FilePath ip -PassThru -RedirectStandardError (Join-Path $work 'dnsmasq.err') -ArgumentList @(
            'netns', 'exec', $hostNs, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root', '--group=root',
            '--interface=br0', '--bind-interfaces', "--dhcp-leasefile=$(Join-Path $work 'leases')", "--pid-file=$(Join-Path $work 'dnsmasq.pid')",
            '--dhcp-range=10.214.0.100,10.214.0.150,255.255.255.0,2m', '--dhcp-host=52:54:00:de:00:11,10.214.0.11')
        Start-Sleep -Milliseconds 500
        & ip -n $db addr flush dev eth0
        # vnet1 had an EbIpTables binding: -Backend Nftables moves it to the default (a port keeps its backend otherwise).
        Invoke-NwFilterBinding vnet1 52:54:00:de:00:11 clean-traffic -Parameter @{ CTRL_IP_LEARNING = 'dhcp'; DHCPSERVER = '10.214.0.1' } -Backend Nftables -Confirm:$false
        Get-Job -Name vnet1 | Format-Table -AutoSize | Out-String -Width 120
        Note 'Until a lease is acknowledged, vnet1 only passes DHCP (from 10.214.0.1):'
        & ip netns exec $hostNs nft list ruleset 2>$null | Where-Object { $_ -match 'nwfilter learning' } | ForEach-Object { Note $_.Trim() }
        $lease = "$(& ip netns exec $db busybox udhcpc -i eth0 -f -q -n -t 5 -T 1 -s /bin/true 2>&1)" -replace '.*lease of (\S+) obtained.*', '$1'
        Note "db runs busybox udhcpc and gets $lease. The job's events (Receive-Job):"
        $events = @()
        foreach ($i in 1..50) {
            $events += @(Receive-Job -Name vnet1)
            if ($events | Where-Object { $_ -is [NwFilter.Core.Apply.ReinstantiationSucceeded] }) { break }
            Start-Sleep -Milliseconds 100
        }
        $events | Format-Table -AutoSize | Out-String -Width 140
        Get-NwFilterBinding vnet1 | Format-Table -AutoSize | Out-String -Width 140
        & ip -n $db addr add 10.214.0.11/24 dev eth0
        Note "db pings the host from its leased address:                   $(Test-Ping $db 10.214.0.1)"
        & ip -n $db addr add 10.214.0.99/32 dev eth0
        Note "db pings the host from a forged source IP 10.214.0.99:       $(Test-Ping $db 10.214.0.1 @('-I', '10.214.0.99'))  (dropped)"
        & ip -n $db addr del 10.214.0.99/32 dev eth0
    }

    Show 'Removing both bindings: one transaction; no NwFilter chain is left'
    Get-NwFilterBinding | Remove-NwFilterBinding -Confirm:$false
    $left = @(& ip netns exec $hostNs ebtables-save; & ip netns exec $hostNs iptables-save; & ip netns exec $hostNs nft list tables) -match 'libvirt|vnet|nwfilter'
    Note "NwFilter rules left: $($left.Count). db pings web again: $(Test-Ping $db 10.214.0.10)"
    Get-Job | Where-Object PSJobTypeName -EQ NwFilterLearningJob | Format-Table -AutoSize | Out-String -Width 120
}
finally {
    Get-Job | Where-Object PSJobTypeName -EQ NwFilterLearningJob | Remove-Job -Force
    if (Get-Variable -Name dnsmasq -ErrorAction SilentlyContinue) { Stop-Process -Id $dnsmasq.Id -Force -ErrorAction SilentlyContinue }
    if (Get-Variable -Name lab -ErrorAction SilentlyContinue) {
        foreach ($ns in "$lab-host", "$lab-web", "$lab-db") { & ip netns delete $ns 2>$null }
        Note "Deleted the lab's namespaces."
    }
    foreach ($name in $previous.Keys) { [Environment]::SetEnvironmentVariable($name, $previous[$name]) }
    if (Test-Path -LiteralPath $work) { Remove-Item -LiteralPath $work -Recurse -Force }
}
