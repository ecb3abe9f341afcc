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
    # minutes. Points NWFILTER_NETNS at the host namespace. Returns the lab, or $null when kernel tests cannot run here.
    param([int] $Vms = 1)
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
    New-NwFilterLearningLab, Remove-NwFilterLearningLab, Invoke-NwFilterLabDhcp
