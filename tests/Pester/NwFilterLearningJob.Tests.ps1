# IP address learning as PowerShell jobs, and as a service (Restore-NwFilterBinding -Wait, the systemd unit's command):
# a lab with a bridge, dnsmasq and VM namespaces, busybox udhcpc as the VMs' DHCP client. Kernel tests need root.
# Every block runs on both backends (the ebtables/iptables compatibility mode and nftables, the default).

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoLab = -not (Test-NwFilterKernelTests) -or -not (Test-NwFilterProgram dnsmasq, busybox)
    $script:NoAnalyze = -not (Test-NwFilterProgram systemd-analyze)
}

BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterLearningLab -Vms 2
    $script:Unit = Join-Path $TestEnv.Root 'contrib/systemd/nwfilter-learning.service'

    function Receive-Until([Parameter(Mandatory)] [object] $Job, [Parameter(Mandatory)] [string] $TypeName, [int] $Seconds = 20) {
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

    # What each backend's rules look like where the tests look for them (the port's learning rules, a learned address).
    $script:Looks = @{
        EbIpTables = @{
            DhcpOnly = '-A libvirt-O-vnet0 -p IPv4 -d 52:54:00:d5:00:10 --ip-src 10.213.0.1 --ip-proto udp --ip-sport 67'
            Basic9   = '-A libvirt-I-vnet9 -s ! 52:54:00:d5:00:99 -j DROP'
            Learned  = '--ip-src {0} -j RETURN'
        }
        Nftables   = @{
            DhcpOnly = 'ether daddr 52:54:00:d5:00:10 ip saddr 10.213.0.1 ip protocol udp udp sport 67 udp dport 68 accept'
            Basic9   = 'ether saddr != 52:54:00:d5:00:99 drop'
            Learned  = 'ip saddr {0} return'
        }
    }

    function Get-LabRules([Parameter(Mandatory)] [string] $Backend) {
        # The lab host's rules of the backend, as its tool lists them.
        if ($Backend -eq 'EbIpTables') { return Get-NwFilterTestSave $Lab.Host }
        return (& ip netns exec $Lab.Host nft list ruleset) -join "`n"
    }

    function Get-AllLabRules {
        (Get-NwFilterTestSave $Lab.Host) + ((& ip netns exec $Lab.Host nft list ruleset) -join "`n")
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

Describe 'NwFilterLearningJob on <Backend>' -ForEach @(@{ Backend = 'EbIpTables' }, @{ Backend = 'Nftables' }) {
    It 'is started by Invoke-NwFilterBinding for a filter that needs IP without one: named after the port, Running' -Skip:$NoLab {
        $vm = $Lab.Vms[0]
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $b = Invoke-NwFilterBinding -Backend $Backend $vm.PortDevice $vm.Mac clean-traffic -Parameter @{ CTRL_IP_LEARNING = 'dhcp'; DHCPSERVER = '10.213.0.1' } -Confirm:$false -PassThru
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
        $job = @(Get-Job -Name vnet0)
        $job | Should -HaveCount 1
        $job[0].PSJobTypeName | Should -Be 'NwFilterLearningJob'
        $job[0].State | Should -Be 'Running'
        $job[0].Location | Should -Be $Lab.Host
        $b.LearningJob.InstanceId | Should -Be $job[0].InstanceId
        $b.LearningMode | Should -Be 'Dhcp'
        $b.LearningState | Should -Be 'Learning'
        $b.LearnedAddress | Should -HaveCount 0
        Get-LabRules $Backend | Should -Match ([regex]::Escape($Looks[$Backend].DhcpOnly))
    }

    It 'yields typed events to Receive-Job once udhcpc has a lease; the binding shows its LearnedAddress' -Skip:$NoLab {
        Invoke-NwFilterLabDhcp $Lab.Vms[0] | Should -Be '10.213.0.10'
        $events = Receive-Until (Get-Job -Name vnet0) 'ReinstantiationSucceeded'
        $events[0] | Should -BeOfType ([NwFilter.Core.Learning.AddressLearned])
        $events[0].Address.Address.ToString() | Should -Be '10.213.0.10'
        $done = $events | Where-Object { $_ -is [NwFilter.Core.Apply.ReinstantiationSucceeded] }
        $done.IP | Should -Be @('10.213.0.10')
        $events | Out-String -Width 120 | Should -Match 'vnet0 +ReinstantiationSucceeded +re-instantiated clean-traffic with IP=10.213.0.10'
        $b = Get-NwFilterBinding vnet0
        $b.LearningState | Should -Be 'Learned'
        $b.LearnedAddress.Address.ToString() | Should -Be '10.213.0.10'
        $b | Out-String -Width 160 | Should -Match "vnet0 +52:54:00:d5:00:10 +clean-traffic +vnet0 +$Backend +dhcp Learned 10.213.0.10 +CTRL_IP_LEARNING=dhcp"
        Get-LabRules $Backend | Should -Match ([regex]::Escape($Looks[$Backend].Learned -f '10.213.0.10'))
    }

    It 'Stop-Job stops learning and leaves the rules in force' -Skip:$NoLab {
        Get-Job -Name vnet0 | Stop-Job
        (Get-Job -Name vnet0).State | Should -Be 'Stopped'
        (Get-NwFilterBinding vnet0).LearningState | Should -Be 'Stopped'
        Get-LabRules $Backend | Should -Match ([regex]::Escape($Looks[$Backend].Learned -f '10.213.0.10'))
        (Test-NwFilterBinding vnet0).Status | Should -Be 'InSync'
    }

    It 'Restore-NwFilterBinding applies the stored lease at once and snoops again in a new job' -Skip:$NoLab {
        & ip netns exec $Lab.Host nft flush ruleset
        Restore-NwFilterBinding -Confirm:$false
        Get-LabRules $Backend | Should -Match ([regex]::Escape($Looks[$Backend].Learned -f '10.213.0.10'))
        $job = @(Get-Job -Name vnet0 | Where-Object State -EQ Running)
        $job | Should -HaveCount 1
        $events = Receive-Until $job[0] 'ReinstantiationSucceeded'
        $events[0] | Should -BeOfType ([NwFilter.Core.Learning.LeasesRestored])
        $events[-1].ProcessLaunches | Should -Be 0
    }

    It 'learns from a plain IPv4 packet in any mode, and the job completes' -Skip:$NoLab {
        $vm = $Lab.Vms[1]
        Invoke-NwFilterBinding -Backend $Backend $vm.PortDevice $vm.Mac clean-traffic -Confirm:$false
        $job = Get-Job -Name vnet1
        $job.State | Should -Be 'Running'
        & ip -n $vm.Namespace addr add "$($vm.IPv4)/24" dev eth0
        & ip netns exec $vm.Namespace ping -n -q -b -c 1 -W 1 10.213.0.255 2>&1 | Out-Null
        $job | Wait-Job -Timeout 20 | Should -Not -BeNullOrEmpty
        $job.State | Should -Be 'Completed'
        $learned = Receive-Job $job | Where-Object { $_ -is [NwFilter.Core.Learning.AddressLearned] }
        $learned.Address.Source | Should -Be 'IPv4Packet'
        (Get-NwFilterBinding vnet1).LearnedAddress.Address.ToString() | Should -Be $vm.IPv4
    }

    It 'says IpLearningFailed when the port device cannot be captured on, and keeps the binding with its learning rules' -Skip:$NoLab {
        Invoke-NwFilterBinding -Backend $Backend vnet9 52:54:00:d5:00:99 clean-traffic -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs | Should -HaveCount 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'IpLearningFailed,NwFilter.Commands.InvokeNwFilterBindingCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        "$($errs[0])" | Should -BeLike "*vnet9*learning rules*no such device*Restore-NwFilterBinding*"
        Get-Job -Name vnet9 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        (Get-NwFilterBinding vnet9).LearningState | Should -Be 'NotStarted'
        Get-LabRules $Backend | Should -Match ([regex]::Escape($Looks[$Backend].Basic9))
        Remove-NwFilterBinding vnet9 -Confirm:$false
    }

    It 'Remove-NwFilterBinding ends the job and removes every rule; Remove-Job removes the jobs' -Skip:$NoLab {
        $running = Get-Job -Name vnet0 | Where-Object State -EQ Running
        { $running | Remove-Job -ErrorAction Stop } | Should -Throw
        Remove-NwFilterBinding vnet0, vnet1 -Confirm:$false
        $running.State | Should -Be 'Stopped'
        Get-AllLabRules | Should -Not -Match 'vnet'
        Get-Job | Where-Object PSJobTypeName -EQ 'NwFilterLearningJob' | Remove-Job
        Get-Job -Name vnet0, vnet1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-ChildItem -Recurse -Filter *.json -LiteralPath $TestEnv.StateDir | Should -BeNullOrEmpty
    }
}

Describe 'The learning service (Restore-NwFilterBinding -Wait, run by contrib/systemd/nwfilter-learning.service) on <Backend>' -ForEach @(@{ Backend = 'EbIpTables' }, @{ Backend = 'Nftables' }) {
    It 'passes systemd-analyze verify (with pwsh replaced by a program that exists here)' -Skip:$NoAnalyze {
        $copy = Join-Path $TestEnv.TempDir 'nwfilter-learning.service'
        (Get-Content -Raw -LiteralPath $Unit).Replace('/usr/bin/pwsh', '/bin/sh') | Set-Content -LiteralPath $copy -NoNewline
        $out = & systemd-analyze verify $copy 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
    }

    It 'runs its ExecStart command: restores, learns, takes over new bindings, a line per event, ends cleanly on SIGTERM' -Skip:$NoLab {
        $vm0, $vm1 = $Lab.Vms
        $env:NWFILTER_NETNS | Should -Be $Lab.Host   # never the host's own firewall
        # A binding made by a process that has ended: its learner went with it; the port has the DHCP-only rules.
        Invoke-NwFilterInChild "Invoke-NwFilterBinding -Backend $Backend vnet0 $($vm0.Mac) clean-traffic -Parameter @{ CTRL_IP_LEARNING = 'dhcp' } -Confirm:`$false"

        # The unit's ExecStart, with systemd's $$ unescaped, run by this pwsh; Import-Module NwFilter finds out/NwFilter.
        $line = @(Get-Content -LiteralPath $Unit | Where-Object { $_ -like 'ExecStart=*' })
        $line | Should -HaveCount 1
        $words = @([regex]::Matches($line[0].Substring(10).Replace('$$', '$'), '"([^"]*)"|(\S+)') | ForEach-Object { if ($_.Groups[1].Success) { $_.Groups[1].Value } else { $_.Groups[2].Value } })
        $words[0] | Should -Be '/usr/bin/pwsh'
        $words[-1] | Should -BeLike '*Restore-NwFilterBinding -Wait -Confirm:$false*'
        $exe = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $out = Join-Path $TestEnv.TempDir 'service.out'
        $err = Join-Path $TestEnv.TempDir 'service.err'
        $start = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
        foreach ($a in @('-c', 'exec "$0" "$@" >"$NWFT_OUT" 2>"$NWFT_ERR"', $exe) + $pre + $words[1..($words.Count - 1)]) { $start.ArgumentList.Add($a) }
        $start.Environment['NWFT_OUT'] = $out
        $start.Environment['NWFT_ERR'] = $err
        $start.Environment['PSModulePath'] = (Join-Path $TestEnv.Root 'out') + [IO.Path]::PathSeparator + $env:PSModulePath
        $service = [Diagnostics.Process]::Start($start)
        try {
            Wait-Text $out 'learning on vnet0 \(dhcp\)\. Ctrl\+C or SIGTERM' | Out-Null
            Invoke-NwFilterLabDhcp $vm0 | Should -Be '10.213.0.10'
            try { Wait-Text $out 'vnet0: re-instantiated clean-traffic with IP=10\.213\.0\.10' -Seconds 20 | Out-Null }
            catch {
                # Once in CI under load the first exchange's ACK was not learned (cause not found): the VM's client asks
                # again, as a real one would, and that exchange must be learned.
                Invoke-NwFilterLabDhcp $vm0 | Should -Be '10.213.0.10'
                Wait-Text $out 'vnet0: re-instantiated clean-traffic with IP=10\.213\.0\.10' | Out-Null
            }

            # A binding created while the service runs, by another process: taken over and learned.
            Invoke-NwFilterInChild "Invoke-NwFilterBinding -Backend $Backend vnet1 $($vm1.Mac) clean-traffic -Confirm:`$false"
            Wait-Text $out 'Took over the binding of vnet1' | Out-Null
            # The VM speaks (a broadcast ping, once a second until the service says it learned: a loaded machine may
            # still be opening the new learner's capture when the first one goes out).
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            do {
                & ip netns exec $vm1.Namespace ping -n -q -b -c 1 -W 1 10.213.0.255 2>&1 | Out-Null
                $learned = (Get-Content -Raw -LiteralPath $out) -match 'vnet1: re-instantiated clean-traffic with IP=10\.213\.0\.11'
            } until ($learned -or [DateTime]::UtcNow -gt $deadline)
            Wait-Text $out 'vnet1: re-instantiated clean-traffic with IP=10\.213\.0\.11' -Seconds 1 | Out-Null

            & kill -TERM $service.Id
            $service.WaitForExit(20000) | Should -BeTrue
            $service.ExitCode | Should -Be 0
            $text = Get-Content -Raw -LiteralPath $out
            $text | Should -Match 'vnet0: stopped \(Stopped\)'
            $text | Should -Match 'stopped \(\d learner\(s\)\); the rules in force stay'
            Get-Content -Raw -LiteralPath $err | Should -BeNullOrEmpty
            $save = Get-LabRules $Backend
            $save | Should -Match ([regex]::Escape($Looks[$Backend].Learned -f '10.213.0.10'))
            $save | Should -Match ([regex]::Escape($Looks[$Backend].Learned -f '10.213.0.11'))
        }
        finally {
            if (-not $service.HasExited) { $service.Kill($true); $service.WaitForExit(5000) | Out-Null }
            Invoke-NwFilterInChild 'Get-NwFilterBinding | Remove-NwFilterBinding -Confirm:$false' | Out-Null
        }
        Get-AllLabRules | Should -Not -Match 'vnet'
    }
}
