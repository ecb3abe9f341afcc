# IPv6 address learning (CTRL_IPV6_LEARNING, issue 15) through the user-facing hosts, with real autoconfiguration:
# the PowerShell job (Invoke-NwFilterBinding), the learning service (Restore-NwFilterBinding -Wait) and nwfilterd.
# The lab of NwFilterLearningJob.Tests.ps1 with fd00:213::1/64 on its bridge, a second dnsmasq sending router
# advertisements (SLAAC only, or managed with a DHCPv6 range), the VMs' own kernels autoconfiguring and dhcpcd as the
# DHCPv6 client. Every binding is nwfilter-clean-traffic-dual-stack with IP given and IPV6 absent: the IPv6 address is
# learned. vm0 is filtered; vm1 has no binding (the positive control of every drop). Kernel tests need root.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoLab = -not (Test-NwFilterKernelTests) -or -not (Test-NwFilterProgram dnsmasq, busybox)
    $script:NoDhcpcd = $NoLab -or -not (Test-NwFilterProgram dhcpcd)
    $daemonExe = Join-Path (Get-NwFilterRepositoryRoot) 'out/nwfilterd/nwfilterd'
    $script:NoDaemon = $NoLab -or -not (Test-NwFilterResource tools (Test-Path -LiteralPath $daemonExe) "$daemonExe is missing (build.ps1 -Task Layout)")
}

BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterLearningLab -Vms 2 -IPv6
    $script:Filter = 'nwfilter-clean-traffic-dual-stack'
    if ($Lab) {
        $script:Vm, $script:Open = $Lab.Vms
        $script:Slaac = Get-NwFilterLabSlaacAddress $Vm
        $script:LinkLocal = Get-NwFilterLabSlaacAddress $Vm -LinkLocal
    }

    function Receive-Until([Parameter(Mandatory)] [object] $Job, [Parameter(Mandatory)] [string] $TypeName, [int] $Seconds = 30) {
        # Receives the job's events until one of type $TypeName has come; returns them all.
        $all = [Collections.Generic.List[object]]::new()
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            foreach ($e in @(Receive-Job $Job)) { $all.Add($e) }
            if (@($all | Where-Object { $_.GetType().Name -eq $TypeName }).Count -gt 0) { return , $all.ToArray() }
            Start-Sleep -Milliseconds 100
        }
        throw "no $TypeName from job $($Job.Name) within $Seconds s; got: $($all -join '; ')"
    }

    function Get-LabRules([Parameter(Mandatory)] [string] $Backend) {
        # The lab host's rules of the backend, as its tool lists them.
        if ($Backend -eq 'EbIpTables') { return Get-NwFilterTestSave $Lab.Host }
        return (& ip netns exec $Lab.Host nft list ruleset) -join "`n"
    }

    function Get-LeaseFile {
        # The lease file of vm0's port in this session's state folder (the namespace's leases/ folder), or $null.
        Get-ChildItem -Recurse -File -Filter "$($Vm.PortDevice).json" -LiteralPath $TestEnv.StateDir | Where-Object { $_.Directory.Name -eq 'leases' }
    }

    function Assert-Filtered([Parameter(Mandatory)] [string] $Allowed) {
        # vm0's address $Allowed is answered; a second address vm0 gives itself is dropped, and the same from the
        # unfiltered vm1 passes (the positive control).
        Wait-NwFilterLabIPv6Address $Vm $Allowed
        Test-NwFilterLabPing6 $Vm $Allowed | Should -BeTrue -Because "the learned $Allowed passes"
        & ip -n $Vm.Namespace addr replace fd00:213::77/64 dev eth0 nodad
        & ip -n $Open.Namespace addr replace fd00:213::78/64 dev eth0 nodad
        Test-NwFilterLabPing6 $Vm fd00:213::77 | Should -BeFalse -Because 'an address vm0 was not seen to configure is dropped'
        Test-NwFilterLabPing6 $Open fd00:213::78 | Should -BeTrue -Because 'the same from the unfiltered VM passes (positive control)'
        & ip -n $Vm.Namespace addr del fd00:213::77/64 dev eth0
    }

    function Suspend-VmIPv6 {
        # vm0 without IPv6 (no address, sends nothing) until Reset-NwFilterLabIPv6 brings it back as a booting guest.
        & ip netns exec $Vm.Namespace sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=1
    }

    function Start-LearningService {
        # Restore-NwFilterBinding -Wait in a pwsh of its own, as contrib/systemd/nwfilter-learning.service runs it
        # (one line per event); stdout and stderr go to files. Returns Process, Out, Err.
        param([Parameter(Mandatory)] [string] $Name)
        $exe = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $out = Join-Path $TestEnv.TempDir "$Name.out"
        $err = Join-Path $TestEnv.TempDir "$Name.err"
        $start = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
        $command = 'Import-Module NwFilter; Restore-NwFilterBinding -Wait -Confirm:$false | ForEach-Object ToString'
        foreach ($a in @('-c', 'exec "$0" "$@" >"$NWFT_OUT" 2>"$NWFT_ERR"', $exe) + $pre + @('-NoProfile', '-NonInteractive', '-Command', $command)) { $start.ArgumentList.Add($a) }
        $start.Environment['NWFT_OUT'] = $out
        $start.Environment['NWFT_ERR'] = $err
        $start.Environment['PSModulePath'] = (Join-Path $TestEnv.Root 'out') + [IO.Path]::PathSeparator + $env:PSModulePath
        [pscustomobject]@{ Process = [Diagnostics.Process]::Start($start); Out = $out; Err = $err }
    }

    function Stop-LearningService([AllowNull()] [object] $Service) {
        # SIGTERM, as systemd stops it; returns the exit code (the process is killed when it does not end in 30 s).
        if (-not $Service -or $Service.Process.HasExited) { return }
        & kill -TERM $Service.Process.Id
        if (-not $Service.Process.WaitForExit(30000)) { $Service.Process.Kill($true); $null = $Service.Process.WaitForExit(5000); return -1 }
        $Service.Process.ExitCode
    }

    function Wait-Text([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $Pattern, [int] $Seconds = 30) {
        # Waits until the file (a service's output) matches the pattern; returns the file's text.
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            $text = if (Test-Path -LiteralPath $Path) { Get-Content -Raw -LiteralPath $Path } else { '' }
            if ($text -match $Pattern) { return $text }
            Start-Sleep -Milliseconds 100
        }
        throw "'$Pattern' did not appear in $Path within $Seconds s: $text"
    }
}

AfterAll {
    Get-Job | Where-Object PSJobTypeName -EQ 'NwFilterLearningJob' | Remove-Job -Force
    Remove-NwFilterLearningLab $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'IPv6 learning in an NwFilterLearningJob on <Backend>' -ForEach @(@{ Backend = 'EbIpTables' }, @{ Backend = 'Nftables' }) {
    It 'learns the SLAAC address from the VM''s DAD: typed events in Receive-Job, LearnedAddress, the address works and another is dropped' -Skip:$NoLab {
        $ra = Start-NwFilterLabRouterAdvertisement $Lab
        try {
            $b = Invoke-NwFilterBinding -Backend $Backend $Vm.PortDevice $Vm.Mac $Filter -Parameter @{ IP = $Vm.IPv4 } -Confirm:$false -PassThru
            $b.LearningMode | Should -Be 'Any'
            $b.LearningState | Should -Be 'Learning'
            $job = @(Get-Job -Name $Vm.PortDevice)
            $job | Should -HaveCount 1
            $job[0].PSJobTypeName | Should -Be 'NwFilterLearningJob'
            $job[0].State | Should -Be 'Running'
            # IP given: the binding is compiled at once, with the MAC's link-local address as IPV6
            Get-LabRules $Backend | Should -Match ([regex]::Escape($LinkLocal))

            Reset-NwFilterLabIPv6 $Vm   # the VM autoconfigures from the router advertisements
            $events = Receive-Until $job[0] 'ReinstantiationSucceeded'
            $learned = @($events | Where-Object { $_ -is [NwFilter.Core.Learning.AddressLearned] })
            $learned | Should -HaveCount 1
            $learned[0].Address.Address.ToString() | Should -Be $Slaac
            "$($learned[0].Address.Source)" | Should -Be 'Ndp'
            $done = @($events | Where-Object { $_ -is [NwFilter.Core.Apply.ReinstantiationSucceeded] })
            $done[0].IPv6 | Should -Be @($Slaac)
            $done[0].IP | Should -Be @($Vm.IPv4)
            $events | Out-String -Width 200 | Should -Match "$($Vm.PortDevice) +ReinstantiationSucceeded +re-instantiated $Filter with IP=$([regex]::Escape($Vm.IPv4)) IPV6=$Slaac"
            # any mode: the job completes once the family asked for has its address
            $job[0] | Wait-Job -Timeout 20 | Should -Not -BeNullOrEmpty
            $job[0].State | Should -Be 'Completed'

            $b = Get-NwFilterBinding $Vm.PortDevice
            $b.LearningState | Should -Be 'Learned'
            @($b.LearnedAddress.Address.IPAddressToString) | Should -Be @($Slaac)
            $rules = Get-LabRules $Backend
            $rules | Should -Match ([regex]::Escape($Slaac))
            $rules | Should -Match ([regex]::Escape($LinkLocal))
            (Get-Content -Raw -LiteralPath (Get-LeaseFile).FullName) | Should -Match ([regex]::Escape($Slaac))

            Assert-Filtered $Slaac
        }
        finally { Stop-NwFilterLabRouterAdvertisement $ra }
    }

    It 'Remove-NwFilterBinding removes the rules and the learned address' -Skip:$NoLab {
        Remove-NwFilterBinding $Vm.PortDevice -Confirm:$false
        Get-LabRules $Backend | Should -Not -Match ([regex]::Escape($Slaac))
        Get-LeaseFile | Should -BeNullOrEmpty
        & ip -n $Vm.Namespace addr replace fd00:213::77/64 dev eth0 nodad
        Test-NwFilterLabPing6 $Vm fd00:213::77 | Should -BeTrue -Because 'the port has no filter any more'
        & ip -n $Vm.Namespace addr del fd00:213::77/64 dev eth0
        Get-Job | Where-Object PSJobTypeName -EQ 'NwFilterLearningJob' | Remove-Job
    }

    It 'in dhcp mode learns the DHCPv6 lease from DHCPV6SERVER; Remove-NwFilterBinding ends the running job' -Skip:$NoDhcpcd {
        $server = ((& ip -n $Lab.Host -6 addr show dev br0 scope link) -join "`n") -replace '(?s).*inet6 (fe80::[0-9a-f:]+)/64.*', '$1'
        $server | Should -Match '^fe80::'
        $ra = Start-NwFilterLabRouterAdvertisement $Lab -Dhcpv6Range 'fd00:213::100,fd00:213::1ff,64,10m'
        try {
            $b = Invoke-NwFilterBinding -Backend $Backend $Vm.PortDevice $Vm.Mac $Filter -Parameter @{ IP = $Vm.IPv4; CTRL_IPV6_LEARNING = 'dhcp'; DHCPV6SERVER = $server } -Confirm:$false -PassThru
            $b.LearningMode | Should -Be 'Dhcp'
            $job = @(Get-Job -Name $Vm.PortDevice | Where-Object State -EQ Running)
            $job | Should -HaveCount 1
            Reset-NwFilterLabIPv6 $Vm
            $client = Invoke-NwFilterLabDhcpv6 $Vm
            $events = Receive-Until $job[0] 'ReinstantiationSucceeded' -Seconds 15
            $learned = @($events | Where-Object { $_ -is [NwFilter.Core.Learning.AddressLearned] })
            $learned | Should -HaveCount 1 -Because "dhcpcd: $client; dnsmasq: $(Get-Content -Raw -LiteralPath $ra.Log)"
            "$($learned[0].Address.Source)" | Should -Be 'Dhcpv6'
            $address = $learned[0].Address.Address.ToString()
            $address | Should -BeLike 'fd00:213::1*'
            $learned[0].Address.Server.ToString() | Should -Be $server
            $learned[0].Address.Expires | Should -Not -BeNullOrEmpty
            @($events | Where-Object { $_ -is [NwFilter.Core.Apply.ReinstantiationSucceeded] })[0].IPv6 | Should -Be @($address)
            $b = Get-NwFilterBinding $Vm.PortDevice
            $b.LearningState | Should -Be 'Learned'
            @($b.LearnedAddress.Address.IPAddressToString) | Should -Be @($address)
            Assert-Filtered $address
            $job[0].State | Should -Be 'Running'   # dhcp mode keeps snooping (renewals, expiry)

            Remove-NwFilterBinding $Vm.PortDevice -Confirm:$false
            $job[0].State | Should -Be 'Stopped'
            Get-LabRules $Backend | Should -Not -Match ([regex]::Escape($address))
            Get-LeaseFile | Should -BeNullOrEmpty
            Get-Job | Where-Object PSJobTypeName -EQ 'NwFilterLearningJob' | Remove-Job
        }
        finally { Stop-NwFilterLabRouterAdvertisement $ra }
    }
}

Describe 'IPv6 learning in the learning service (Restore-NwFilterBinding -Wait) on <Backend>' -ForEach @(@{ Backend = 'EbIpTables' }, @{ Backend = 'Nftables' }) {
    It 'takes over a binding whose learner went with its process, learns the SLAAC address from the VM''s DAD, keeps it across SIGTERM and a restart' -Skip:$NoLab {
        $ra = Start-NwFilterLabRouterAdvertisement $Lab
        $service = $null
        try {
            Suspend-VmIPv6   # the VM starts with no IPv6 address (an earlier test's DHCPv6 lease would be learned)
            # A binding made by a process that has ended: its job went with it; the port has the given IP and the
            # MAC's link-local address, no learned one.
            Invoke-NwFilterInChild "Invoke-NwFilterBinding -Backend $Backend $($Vm.PortDevice) $($Vm.Mac) $Filter -Parameter @{ IP = '$($Vm.IPv4)' } -Confirm:`$false" | Out-Null
            (Get-NwFilterBinding $Vm.PortDevice).LearningState | Should -Be 'NotStarted'
            Get-LabRules $Backend | Should -Match ([regex]::Escape($LinkLocal))
            Get-LabRules $Backend | Should -Not -Match ([regex]::Escape($Slaac))

            $service = Start-LearningService "service-$Backend"
            Wait-Text $service.Out "learning on $($Vm.PortDevice) \(any\)\. Ctrl\+C or SIGTERM" | Out-Null
            Reset-NwFilterLabIPv6 $Vm
            $text = Wait-Text $service.Out "$($Vm.PortDevice): re-instantiated $Filter with IP=$([regex]::Escape($Vm.IPv4)) IPV6=$Slaac"
            $text | Should -Match "$($Vm.PortDevice): learned $Slaac"
            Get-LabRules $Backend | Should -Match ([regex]::Escape($Slaac))
            Assert-Filtered $Slaac

            Stop-LearningService $service | Should -Be 0
            Get-Content -Raw -LiteralPath $service.Err | Should -BeNullOrEmpty
            Get-Content -Raw -LiteralPath $service.Out | Should -Match 'stopped \(\d learner\(s\)\); the rules in force stay'
            Get-LabRules $Backend | Should -Match ([regex]::Escape($Slaac)) -Because 'SIGTERM leaves the rules in force'
            @((Get-NwFilterBinding $Vm.PortDevice).LearnedAddress.Address.IPAddressToString) | Should -Be @($Slaac)

            # A restart restores the stored address at once (no new DAD is needed) and the VM keeps working.
            $service = Start-LearningService "service-$Backend-2"
            Wait-Text $service.Out 'NwFilter learning' | Out-Null
            Get-LabRules $Backend | Should -Match ([regex]::Escape($Slaac))
            Test-NwFilterLabPing6 $Vm $Slaac | Should -BeTrue -Because 'the restored address passes'
            Stop-LearningService $service | Should -Be 0
        }
        finally {
            Stop-LearningService $service | Out-Null
            Stop-NwFilterLabRouterAdvertisement $ra
            Invoke-NwFilterInChild 'Get-NwFilterBinding | Remove-NwFilterBinding -Confirm:$false' | Out-Null
        }
        Get-LabRules $Backend | Should -Not -Match ([regex]::Escape($Slaac))
    }
}

Describe 'IPv6 learning in nwfilterd on <Backend>' -ForEach @(@{ Backend = 'EbIpTables' }, @{ Backend = 'Nftables' }) {
    BeforeAll {
        # nwfilterd inside the lab's host namespace; the cmdlets go through its control socket (NWFILTER_DAEMON=daemon:
        # a missing daemon is an error, never an in-process change).
        $script:Saved = @{ NWFILTER_DAEMON = $env:NWFILTER_DAEMON; NWFILTER_DAEMON_SOCKET = $env:NWFILTER_DAEMON_SOCKET; NWFILTER_NETNS = $env:NWFILTER_NETNS }
        $script:Daemon = $null
        if ($NoDaemon) { return }
        $script:Daemon = Start-NwFilterTestDaemon $Lab.Host (Join-Path $TestEnv.TempDir "daemon-$Backend")
        $env:NWFILTER_DAEMON = 'daemon'
        $env:NWFILTER_DAEMON_SOCKET = $Daemon.Control
        $env:NWFILTER_NETNS = $null
    }
    AfterAll {
        Stop-NwFilterTestDaemon $script:Daemon
        foreach ($k in $Saved.Keys) { [Environment]::SetEnvironmentVariable($k, $Saved[$k]) }
    }

    It 'learns the SLAAC address in the daemon''s learner: Get-NwFilterBinding shows it listening, then the address and its source' -Skip:$NoDaemon {
        $ra = Start-NwFilterLabRouterAdvertisement $Lab
        try {
            Suspend-VmIPv6
            Invoke-NwFilterBinding -Backend $Backend $Vm.PortDevice $Vm.Mac $Filter -Parameter @{ IP = $Vm.IPv4 } -Confirm:$false
            $b = Get-NwFilterBinding $Vm.PortDevice
            $b.LearningHost | Should -Be 'nwfilterd'
            $deadline = [DateTime]::UtcNow.AddSeconds(30)   # the learner opens its capture on a thread of its own
            while ($b.LearningState -eq 'NotStarted' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200; $b = Get-NwFilterBinding $Vm.PortDevice }
            $b.LearningMode | Should -Be 'Any'
            $b.LearningState | Should -Be 'Learning'
            $b.Listening | Should -BeTrue
            $b.LearningJob | Should -BeNullOrEmpty
            Get-LabRules $Backend | Should -Not -Match ([regex]::Escape($Slaac))

            Reset-NwFilterLabIPv6 $Vm
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            do { Start-Sleep -Milliseconds 200; $b = Get-NwFilterBinding $Vm.PortDevice } until ($b.LearningState -eq 'Learned' -or [DateTime]::UtcNow -gt $deadline)
            $b.LearningState | Should -Be 'Learned'
            $b.LearningHost | Should -Be 'nwfilterd'
            @($b.LearnedAddress.Address.IPAddressToString) | Should -Be @($Slaac)
            "$($b.LearnedAddress[0].Source)" | Should -Be 'Ndp'
            $deadline = [DateTime]::UtcNow.AddSeconds(10)   # learned, then re-instantiated: wait for the rules
            while ((Get-LabRules $Backend) -notmatch [regex]::Escape($Slaac) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            Get-LabRules $Backend | Should -Match ([regex]::Escape($Slaac))
            Assert-Filtered $Slaac
            Get-Content -Raw -LiteralPath $Daemon.Log | Should -Match "learner $($Vm.PortDevice)"
        }
        finally { Stop-NwFilterLabRouterAdvertisement $ra }
    }

    It 'in dhcp mode learns the DHCPv6 lease from DHCPV6SERVER; Remove-NwFilterBinding stops the learner and removes the rules' -Skip:($NoDaemon -or $NoDhcpcd) {
        Remove-NwFilterBinding $Vm.PortDevice -Confirm:$false -ErrorAction SilentlyContinue
        $server = ((& ip -n $Lab.Host -6 addr show dev br0 scope link) -join "`n") -replace '(?s).*inet6 (fe80::[0-9a-f:]+)/64.*', '$1'
        $ra = Start-NwFilterLabRouterAdvertisement $Lab -Dhcpv6Range 'fd00:213::100,fd00:213::1ff,64,10m'
        try {
            Invoke-NwFilterBinding -Backend $Backend $Vm.PortDevice $Vm.Mac $Filter -Parameter @{ IP = $Vm.IPv4; CTRL_IPV6_LEARNING = 'dhcp'; DHCPV6SERVER = $server } -Confirm:$false
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            do { Start-Sleep -Milliseconds 200; $b = Get-NwFilterBinding $Vm.PortDevice } until ($b.Listening -or [DateTime]::UtcNow -gt $deadline)
            $b.LearningMode | Should -Be 'Dhcp'
            $b.Listening | Should -BeTrue
            Reset-NwFilterLabIPv6 $Vm
            $client = Invoke-NwFilterLabDhcpv6 $Vm
            $deadline = [DateTime]::UtcNow.AddSeconds(15)
            do { Start-Sleep -Milliseconds 200; $b = Get-NwFilterBinding $Vm.PortDevice } until ($b.LearningState -eq 'Learned' -or [DateTime]::UtcNow -gt $deadline)
            $b.LearningState | Should -Be 'Learned' -Because "dhcpcd: $client"
            "$($b.LearnedAddress[0].Source)" | Should -Be 'Dhcpv6'
            $address = $b.LearnedAddress[0].Address.IPAddressToString
            $address | Should -BeLike 'fd00:213::1*'
            $b.Listening | Should -BeTrue -Because 'dhcp mode keeps snooping (renewals, expiry)'
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while ((Get-LabRules $Backend) -notmatch [regex]::Escape($address) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            Assert-Filtered $address

            Remove-NwFilterBinding $Vm.PortDevice -Confirm:$false
            Get-NwFilterBinding $Vm.PortDevice -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Get-LabRules $Backend | Should -Not -Match ([regex]::Escape($address))
            Get-LabRules $Backend | Should -Not -Match ([regex]::Escape($Vm.PortDevice))
        }
        finally {
            Stop-NwFilterLabRouterAdvertisement $ra
            Get-NwFilterBinding -ErrorAction SilentlyContinue | Remove-NwFilterBinding -Confirm:$false -ErrorAction SilentlyContinue
        }
    }
}
