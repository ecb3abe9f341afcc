# Helpers for the binding cmdlets' tests: a throw-away network namespace per test file, when running as root with the
# firewall tools. Its name follows the xunit lab's pattern (nwft-<id>-<pid>-host) so a crashed run's namespace is swept.
#
#   BeforeAll { $script:Lab = New-NwFilterTestNamespace }          # $null when not root or tools are missing
#   AfterAll  { Remove-NwFilterTestNamespace $script:Lab }
#   It '...' -Skip:(-not (Test-NwFilterKernelTests)) { ... }       # evaluated at discovery time

Set-StrictMode -Version Latest

function Test-NwFilterResource {
    # True when the resource is present. When it is absent but the run asserts it is there (NWFILTER_REQUIRE_RESOURCES,
    # set by .ci/run for what it installed or found: corpus, root, tools, shared-tools (../shared/tools beside the clone: dsc-lite), ansible (ansible-core), sshd (openssh-server), vmlab (../shared/tools/vm-lab and out/libvirt), or all), throws instead, so the tests that
    # would skip fail: in CI a skip can never hide a regression. The xunit side is TestSupport/Requirement.cs.
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)] [ValidateSet('corpus', 'root', 'tools', 'shared-tools', 'ansible', 'sshd', 'vmlab')] [string] $Name,
        [Parameter(Mandatory)] [bool] $Present,
        [Parameter(Mandatory)] [string] $Reason
    )
    if ($Present) { return $true }
    $asserted = @("$env:NWFILTER_REQUIRE_RESOURCES" -split '[\s,;]+' | Where-Object { $_ })
    if ($asserted -contains 'all' -or $asserted -contains $Name) {
        throw "NWFILTER_REQUIRE_RESOURCES says '$Name' is present, but these tests would have skipped: $Reason"
    }
    $false
}

function New-NwFilterPwshShim {
    # A folder holding an executable "pwsh" that starts this very PowerShell (the repository's dotnet tool, or a pwsh
    # on PATH), for what runs "pwsh" by name (DSC manifests, the Ansible modules, sshd's subsystem). Returns its path.
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Directory)
    $bin = New-Item -ItemType Directory -Force -Path $Directory
    $exe = [Environment]::ProcessPath
    $pre = if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { " `"$(Join-Path $PSHOME 'pwsh.dll')`"" } else { '' }
    Set-Content -LiteralPath (Join-Path $bin 'pwsh') -Value "#!/bin/sh`nexec `"$exe`"$pre `"`$@`""
    & chmod +x (Join-Path $bin 'pwsh')
    $bin.FullName
}

function New-NwFilterPwshTripwire {
    # A folder holding an executable "pwsh" that starts nothing: it appends its arguments to <Directory>/pwsh-started
    # and exits 97. On PATH (and as NWFILTER_PWSH) it proves that a call made no PowerShell start. Returns the folder.
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Directory)
    $bin = New-Item -ItemType Directory -Force -Path $Directory
    $marker = Join-Path $bin.FullName 'pwsh-started'
    Set-Content -LiteralPath (Join-Path $bin 'pwsh') -Value "#!/bin/sh`necho `"`$*`" >> '$marker'`nexit 97"
    & chmod +x (Join-Path $bin 'pwsh')
    $bin.FullName
}

function Start-NwFilterTestDaemon {
    # A real nwfilterd (out/nwfilterd) inside the namespace, serving this session's NWFILTER_CONFIG_DIR and
    # NWFILTER_STATE_DIR, with its libvirt and control sockets in Directory. Returns Process, Control (the control
    # socket) and Log once it listens; Stop-NwFilterTestDaemon stops it (SIGTERM, as systemd).
    param([Parameter(Mandatory)] [string] $Namespace, [Parameter(Mandatory)] [string] $Directory)
    $exe = Join-Path ([IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))) 'out/nwfilterd/nwfilterd'
    $dir = (New-Item -ItemType Directory -Force -Path $Directory).FullName
    $log = Join-Path $dir 'nwfilterd.log'
    $control = Join-Path $dir 'control.sock'
    $process = Start-Process -FilePath ip -PassThru -RedirectStandardOutput $log -RedirectStandardError "$log.err" -ArgumentList @(
        'netns', 'exec', $Namespace, $exe, '--libvirt-socket', (Join-Path $dir 'libvirt.sock'), '--control-socket', $control,
        '--libvirt-binding-dir', (Join-Path $dir 'none'))
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    while (-not ((Test-Path -LiteralPath $log) -and (Select-String -LiteralPath $log -Pattern '^listening on' -Quiet))) {
        if ([DateTime]::UtcNow -gt $deadline -or $process.HasExited) {
            throw "nwfilterd did not start: $(Get-Content -Raw $log -ErrorAction SilentlyContinue) $(Get-Content -Raw "$log.err" -ErrorAction SilentlyContinue)"
        }
        Start-Sleep -Milliseconds 100
    }
    [pscustomobject]@{ Process = $process; Control = $control; Log = $log }
}

function Stop-NwFilterTestDaemon {
    param([AllowNull()] [object] $Daemon)
    if ($Daemon -and -not $Daemon.Process.HasExited) {
        & kill -TERM $Daemon.Process.Id
        $null = $Daemon.Process.WaitForExit(30000)
    }
}

function Test-NwFilterProgram {
    # True when every program is on PATH (the 'tools' resource of Test-NwFilterResource).
    [OutputType([bool])]
    param([Parameter(Mandatory)] [string[]] $Name)
    $missing = @($Name | Where-Object { -not (Get-Command $_ -CommandType Application -ErrorAction SilentlyContinue) })
    Test-NwFilterResource tools ($missing.Count -eq 0) "missing programs: $($missing -join ', ')"
}

function Test-NwFilterKernelTests {
    # True when kernel tests can run here: root, Linux, the tools, and NWFILTER_SKIP_NETNS unset.
    [OutputType([bool])]
    param()
    if (-not (Test-NwFilterResource root ($IsLinux -and -not $env:NWFILTER_SKIP_NETNS) 'kernel tests need Linux and NWFILTER_SKIP_NETNS unset')) { return $false }
    if (-not (Test-NwFilterResource root ((& id -u) -eq '0') 'kernel tests need root')) { return $false }
    Test-NwFilterProgram 'ip', 'ebtables-save', 'ebtables-restore', 'iptables-save', 'iptables-restore', 'ip6tables-save', 'ip6tables-restore', 'nft'
}

function New-NwFilterTestNamespace {
    # Creates a namespace with a bridge br0 and veth ports vnet0..vnet<Ports-1> (peers left in the same namespace,
    # down: no traffic is needed), and points NWFILTER_NETNS at it. Returns its name, or $null when kernel tests cannot run.
    param([int] $Ports = 2)
    $script:PreviousNetns = $env:NWFILTER_NETNS
    if (-not (Test-NwFilterKernelTests)) {
        # A test that is not skipped must never reach the host's own firewall. Without root (CAP_NET_ADMIN) the
        # runtime refuses every change before any tool runs, so the host's own namespace is safe and -WhatIf plans
        # work; as root (NWFILTER_SKIP_NETNS), a namespace that does not exist, which the runtime refuses outright.
        $env:NWFILTER_NETNS = if ((& id -u) -eq '0') { "nwft-absent-$PID" } else { $null }
        return $null
    }
    $id = -join ((48..57) + (97..122) | Get-Random -Count 6 | ForEach-Object { [char] $_ })
    $name = "nwft-$id-$PID-host"
    & ip netns add $name
    if ($LASTEXITCODE -ne 0) { throw "ip netns add $name failed" }
    $batch = @('link set lo up', 'link add br0 type bridge') + @(0..($Ports - 1) | ForEach-Object { "link add vnet$_ type veth peer name peer$_"; "link set vnet$_ master br0" })
    $batch -join "`n" | & ip -n $name -batch - | Out-Null
    if ($LASTEXITCODE -ne 0) { & ip netns delete $name; throw "setting up $name failed" }
    $env:NWFILTER_NETNS = $name
    $name
}

function Remove-NwFilterTestNamespace {
    param([AllowNull()] [string] $Name)
    $env:NWFILTER_NETNS = $script:PreviousNetns
    if ($Name) { & ip netns delete $Name }
}

function Get-NwFilterTestSave {
    # The three tables of the namespace as the save tools print them, without comments and counters.
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Name)
    $text = foreach ($tool in @('ebtables-save', 'iptables-save', 'ip6tables-save')) {
        & ip netns exec $Name $tool | Where-Object { $_ -and -not $_.StartsWith('#') }
    }
    ($text -join "`n") -replace ' \[0:0\]', ''
}

function New-NwFilterLearningLab {
    # A lab for learning tests, shaped as the xunit one: namespace nwft-<id>-<pid>-host with bridge br0
    # (10.213.0.1/24) and one namespace nwft-<id>-<pid>-vm<N> per VM, joined by a veth pair (vnet<N> on the bridge,
    # eth0 with MAC 52:54:00:d5:00:1<N> and no address in the VM). dnsmasq on br0 leases each VM 10.213.0.1<N> for two
    # minutes. With -IPv6 the bridge also has fd00:213::1/64 (for Start-NwFilterLabRouterAdvertisement; the VMs have
    # only their link-local addresses until they autoconfigure). Points NWFILTER_NETNS at the host namespace. Returns
    # the lab, or $null when kernel tests cannot run here.
    param([int] $Vms = 1, [switch] $IPv6)
    $script:PreviousNetns = $env:NWFILTER_NETNS
    if (-not (Test-NwFilterKernelTests) -or -not (Get-Command dnsmasq, busybox -CommandType Application -ErrorAction SilentlyContinue)) {
        $env:NWFILTER_NETNS = "nwft-absent-$PID"
        return $null
    }
    $id = -join ((48..57) + (97..122) | Get-Random -Count 6 | ForEach-Object { [char] $_ })
    $hostNs = "nwft-$id-$PID-host"
    $vmList = @(0..($Vms - 1) | ForEach-Object {
            [pscustomobject]@{ Namespace = "nwft-$id-$PID-vm$_"; PortDevice = "vnet$_"; Mac = '52:54:00:d5:00:{0:x2}' -f (16 + $_); IPv4 = "10.213.0.$(10 + $_)" }
        })
    $dir = Join-Path ([IO.Path]::GetTempPath()) "nwfilter-lab-$id"
    $lab = [pscustomobject]@{ Host = $hostNs; Vms = $vmList; Directory = $dir; Dnsmasq = $null }
    try {
        $null = New-Item -ItemType Directory -Force $dir
        (@($hostNs) + $vmList.Namespace | ForEach-Object { "netns add $_" }) -join "`n" | & ip -batch - | Out-Null
        if ($LASTEXITCODE -ne 0) { throw 'ip netns add failed' }
        $batch = @('link set lo up', 'link add br0 type bridge stp_state 0 forward_delay 0', 'addr add 10.213.0.1/24 dev br0') +
            @(if ($IPv6) { 'addr add fd00:213::1/64 dev br0 nodad' }) +
            @($vmList | ForEach-Object { "link add $($_.PortDevice) type veth peer name eth0 netns $($_.Namespace)"; "link set $($_.PortDevice) master br0"; "link set $($_.PortDevice) up" }) +
            @('link set br0 up')
        $batch -join "`n" | & ip -n $hostNs -batch - | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "setting up $hostNs failed" }
        foreach ($vm in $vmList) {
            "link set lo up`nlink set eth0 address $($vm.Mac)`nlink set eth0 up" | & ip -n $vm.Namespace -batch - | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "setting up $($vm.Namespace) failed" }
        }
        $hosts = @($vmList | ForEach-Object { "--dhcp-host=$($_.Mac),$($_.IPv4)" })
        $lab.Dnsmasq = Start-Process -FilePath ip -PassThru -RedirectStandardError (Join-Path $dir 'dnsmasq.err') -RedirectStandardOutput (Join-Path $dir 'dnsmasq.out') -ArgumentList (@(
                'netns', 'exec', $hostNs, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root', '--group=root',
                '--interface=br0', '--bind-interfaces', '--dhcp-authoritative', "--dhcp-leasefile=$(Join-Path $dir 'leases')",
                "--pid-file=$(Join-Path $dir 'pid')", '--dhcp-range=10.213.0.10,10.213.0.99,255.255.255.0,2m') + $hosts)
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while (-not (& ip netns exec $hostNs ss -Hlun 'sport = :67')) {
            if ([DateTime]::UtcNow -gt $deadline) { throw 'dnsmasq does not listen' }
            Start-Sleep -Milliseconds 50
        }
        $env:NWFILTER_NETNS = $hostNs
        $lab
    }
    catch {
        Remove-NwFilterLearningLab $lab
        throw
    }
}

function Remove-NwFilterLearningLab {
    # Kills everything in the lab's namespaces (dnsmasq, clients) and deletes them.
    param([AllowNull()] [object] $Lab)
    $env:NWFILTER_NETNS = $script:PreviousNetns
    if (-not $Lab) { return }
    foreach ($ns in @($Lab.Host) + @($Lab.Vms.Namespace)) {
        foreach ($p in @(& ip netns pids $ns 2>$null)) { if ($p) { & kill -KILL $p 2>$null } }
        & ip netns delete $ns 2>$null
    }
    if ($Lab.Dnsmasq) { $Lab.Dnsmasq.WaitForExit(5000) | Out-Null }
    if (Test-Path -LiteralPath $Lab.Directory) { Remove-Item -LiteralPath $Lab.Directory -Recurse -Force }
}

function Invoke-NwFilterLabDhcp {
    # Runs busybox udhcpc once in a VM of the lab (the address is not configured); returns the leased address or $null.
    [OutputType([string])]
    param([Parameter(Mandatory)] [object] $Vm)
    $out = (& ip netns exec $Vm.Namespace busybox udhcpc -i eth0 -f -q -n -t 10 -T 1 -s /bin/true 2>&1) -join "`n"
    if ($out -match 'lease of (\S+) obtained') { $Matches[1] }
}

function Start-NwFilterLabRouterAdvertisement {
    # A second dnsmasq on the lab's bridge (a lab made with -IPv6) sending router advertisements for fd00:213::/64
    # every 3 seconds: SLAAC only (ra-only), or managed with a DHCPv6 range when -Dhcpv6Range is given (then dnsmasq
    # answers DHCPv6 from the bridge's link-local address). It leaves DHCPv4 to the lab's own dnsmasq. Returns its
    # process, with Log (its stderr file); Stop-NwFilterLabRouterAdvertisement ends it.
    param([Parameter(Mandatory)] [object] $Lab, [string] $Dhcpv6Range)
    $n = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $log = Join-Path $Lab.Directory "ra-$n.err"
    $range = if ($Dhcpv6Range) { "--dhcp-range=$Dhcpv6Range" } else { '--dhcp-range=fd00:213::,ra-only,64,10m' }
    $process = Start-Process -FilePath ip -PassThru -RedirectStandardError $log -RedirectStandardOutput (Join-Path $Lab.Directory "ra-$n.out") -ArgumentList @(
        'netns', 'exec', $Lab.Host, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--log-facility=-', '--log-dhcp',
        '--user=root', '--group=root', "--pid-file=$(Join-Path $Lab.Directory "ra-$n.pid")", "--dhcp-leasefile=$(Join-Path $Lab.Directory "ra-$n.leases")",
        '--interface=br0', '--bind-interfaces', '--except-interface=lo', '--enable-ra', '--ra-param=br0,3', $range)
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while (-not ((Test-Path -LiteralPath $log) -and (Select-String -LiteralPath $log -Pattern 'router advertisement on' -Quiet))) {
        if ([DateTime]::UtcNow -gt $deadline -or $process.HasExited) {
            Stop-NwFilterLabRouterAdvertisement $process
            throw "dnsmasq sends no router advertisements: $(Get-Content -Raw -LiteralPath $log -ErrorAction SilentlyContinue)"
        }
        Start-Sleep -Milliseconds 50
    }
    $process | Add-Member -NotePropertyName Log -NotePropertyValue $log -PassThru
}

function Stop-NwFilterLabRouterAdvertisement {
    param([AllowNull()] [object] $Process)
    if ($Process -and -not $Process.HasExited) {
        # ip netns exec execs dnsmasq: the process is dnsmasq itself
        & kill -TERM $Process.Id 2>$null
        $null = $Process.WaitForExit(5000)
    }
}

function Get-NwFilterLabSlaacAddress {
    # The address a VM of the lab autoconfigures in fd00:213::/64 from its MAC (modified EUI-64), and its link-local one.
    [OutputType([string])]
    param([Parameter(Mandatory)] [object] $Vm, [switch] $LinkLocal)
    $b = [byte[]]@($Vm.Mac -split ':' | ForEach-Object { [Convert]::ToByte($_, 16) })
    $id = '{0:x}:{1:x}:{2:x}:{3:x}' -f (($b[0] -bxor 2) * 256 + $b[1]), ($b[2] * 256 + 0xff), (0xfe * 256 + $b[3]), ($b[4] * 256 + $b[5])
    if ($LinkLocal) { "fe80::$id" } else { "fd00:213::$id" }
}

function Reset-NwFilterLabIPv6 {
    # Disables and re-enables IPv6 on a VM's eth0 (accepting router advertisements and autoconfiguring): its IPv6
    # addresses go, its link-local one comes back (with DAD) and it solicits a router, as a booting guest does.
    param([Parameter(Mandatory)] [object] $Vm)
    & ip netns exec $Vm.Namespace sysctl -q -w net.ipv6.conf.eth0.accept_ra=1 net.ipv6.conf.eth0.autoconf=1 net.ipv6.conf.eth0.disable_ipv6=1
    & ip netns exec $Vm.Namespace sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=0
    if ($LASTEXITCODE -ne 0) { throw "re-enabling IPv6 in $($Vm.Namespace) failed" }
}

function Wait-NwFilterLabIPv6Address {
    # Waits (at most Seconds) until a VM holds Address on eth0 and its duplicate address detection is over.
    param([Parameter(Mandatory)] [object] $Vm, [Parameter(Mandatory)] [string] $Address, [int] $Seconds = 30)
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    do {
        $shown = (& ip -n $Vm.Namespace -6 addr show dev eth0) -join "`n"
        $line = @($shown -split "`n" | Where-Object { $_ -like "*inet6 $Address/*" })
        if ($line.Count -gt 0 -and $line[0] -notmatch 'tentative') { return }
        Start-Sleep -Milliseconds 100
    } while ([DateTime]::UtcNow -lt $deadline)
    throw "$($Vm.Namespace) has no usable $Address within $Seconds s: $shown"
}

function Test-NwFilterLabPing6 {
    # True when one ping from Source (an address of the VM) to Destination is answered within 2 s.
    [OutputType([bool])]
    param([Parameter(Mandatory)] [object] $Vm, [Parameter(Mandatory)] [string] $Source, [string] $Destination = 'fd00:213::1')
    & ip netns exec $Vm.Namespace timeout 10 ping -6 -n -q -c 1 -W 2 -I $Source $Destination 2>&1 | Out-Null
    $LASTEXITCODE -eq 0
}

function Invoke-NwFilterLabDhcpv6 {
    # Runs dhcpcd once in a VM of the lab, DHCPv6 only (no scripts, at most Seconds); returns what it printed. dhcpcd
    # keeps its DUID and leases in /var/lib/dhcpcd: private empty ones (tmpfs in the mount namespace ip netns exec
    # makes), so nothing of the host is touched and every run starts with a Solicit.
    [OutputType([string])]
    param([Parameter(Mandatory)] [object] $Vm, [int] $Seconds = 30)
    $script = 'mkdir -p /var/lib/dhcpcd /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd && mount -t tmpfs tmpfs /run/dhcpcd && ' +
        "exec dhcpcd --ipv6only --oneshot --nobackground --persistent --config /dev/null --script /bin/true --timeout $Seconds eth0"
    (& ip netns exec $Vm.Namespace timeout ($Seconds + 15) sh -c $script 2>&1) -join "`n"
}

function Invoke-NwFilterInChild {
    # Runs a script in a child pwsh with the laid-out module imported and returns everything it printed: -WhatIf
    # messages go to the host, not to a stream, so only a child's output shows them.
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Script)
    $manifest = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter/NwFilter.psd1'))
    $exe = [Environment]::ProcessPath
    $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    (& $exe @pre -NoProfile -NonInteractive -Command "`$ErrorActionPreference = 'Stop'; Import-Module '$manifest'; $Script" 2>&1) -join "`n"
}

Export-ModuleMember -Function Test-NwFilterResource, New-NwFilterPwshShim, New-NwFilterPwshTripwire, Start-NwFilterTestDaemon, Stop-NwFilterTestDaemon, Test-NwFilterProgram, Test-NwFilterKernelTests, New-NwFilterTestNamespace, Remove-NwFilterTestNamespace, Get-NwFilterTestSave, Invoke-NwFilterInChild,
    New-NwFilterLearningLab, Remove-NwFilterLearningLab, Invoke-NwFilterLabDhcp, Start-NwFilterLabRouterAdvertisement,
    Stop-NwFilterLabRouterAdvertisement, Get-NwFilterLabSlaacAddress, Reset-NwFilterLabIPv6, Wait-NwFilterLabIPv6Address, Test-NwFilterLabPing6,
    Invoke-NwFilterLabDhcpv6
