# One state, many doors (issue 13): with nwfilterd running, the cmdlets act through its control socket, so what
# virsh does through libvirt's RPC shows in the cmdlets and the reverse, on the real kernel of a lab namespace.
# nwfilterd runs inside the namespace (it serves the namespace it runs in); the cmdlets run here with
# NWFILTER_DAEMON=daemon, so that a missing daemon is an error and never an in-process change of this namespace.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $daemonExe = Join-Path (Get-NwFilterRepositoryRoot) 'out/nwfilterd/nwfilterd'
    $script:NoDaemon = -not ((Test-NwFilterKernelTests) -and (Test-NwFilterProgram 'virsh') -and
        (Test-NwFilterResource tools (Test-Path -LiteralPath $daemonExe) "$daemonExe is missing (build.ps1 -Task Layout)"))
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Saved = @{ NWFILTER_DAEMON = $env:NWFILTER_DAEMON; NWFILTER_DAEMON_SOCKET = $env:NWFILTER_DAEMON_SOCKET; NWFILTER_NETNS = $env:NWFILTER_NETNS }
    $script:Ns = $null
    $script:Daemon = $null
    if ($NoDaemon) { return }
    $id = -join ((48..57) + (97..122) | Get-Random -Count 6 | ForEach-Object { [char] $_ })
    $script:Ns = "nwft-$id-$PID-host"
    & ip netns add $Ns
    "link set lo up`nlink add vnet0 type veth peer name peer0`nlink set vnet0 up" | & ip -n $Ns -batch - | Out-Null
    $script:Sock = Join-Path $TestEnv.TempDir 'libvirt.sock'
    $script:Control = Join-Path $TestEnv.TempDir 'control.sock'
    $script:Log = Join-Path $TestEnv.TempDir 'nwfilterd.log'
    $exe = Join-Path $TestEnv.Root 'out/nwfilterd/nwfilterd'
    $script:Daemon = Start-Process -FilePath ip -PassThru -RedirectStandardOutput $Log -RedirectStandardError "$Log.err" -ArgumentList @(
        'netns', 'exec', $Ns, $exe, '--libvirt-socket', $Sock, '--control-socket', $Control, '--libvirt-binding-dir', (Join-Path $TestEnv.TempDir 'none'))
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    while (-not ((Test-Path $Log) -and (Select-String -LiteralPath $Log -Pattern '^listening on' -Quiet))) {
        if ([DateTime]::UtcNow -gt $deadline -or $Daemon.HasExited) { throw "nwfilterd did not start: $(Get-Content -Raw $Log -ErrorAction SilentlyContinue) $(Get-Content -Raw "$Log.err" -ErrorAction SilentlyContinue)" }
        Start-Sleep -Milliseconds 100
    }
    $env:NWFILTER_DAEMON = 'daemon'
    $env:NWFILTER_DAEMON_SOCKET = $Control
    $env:NWFILTER_NETNS = $null
    $script:Uri = "nwfilter:///system?socket=$Sock"
    function script:Virsh { (& timeout 60 virsh -c $script:Uri @args 2>&1) -join "`n" }
    function script:Rules { ((& ip netns exec $script:Ns iptables-save) | Where-Object { -not $_.StartsWith("#") }) -join "`n" }
    $script:FilterXml = { param($Port) "<filter name='doors-f' chain='ipv4'><rule action='drop' direction='in' priority='500'><tcp dstportstart='$Port'/></rule></filter>" }
}
AfterAll {
    if ($Daemon -and -not $Daemon.HasExited) { & kill -TERM $Daemon.Id; $Daemon.WaitForExit(30000) | Out-Null }
    foreach ($k in $Saved.Keys) { [Environment]::SetEnvironmentVariable($k, $Saved[$k]) }
    if ($Ns) { & ip netns delete $Ns }
    Remove-NwFilterTestEnvironment $TestEnv
}

Describe 'The cmdlets through nwfilterd' -Skip:$NoDaemon {
    It 'shows a filter virsh defined through the daemon in Get-NwFilter' {
        $file = Join-Path $TestEnv.TempDir 'f.xml'
        Set-Content -LiteralPath $file -Value (& $FilterXml 2401)
        Virsh nwfilter-define $file | Should -Match "Network filter doors-f defined"
        $f = Get-NwFilter doors-f
        $f.Name | Should -Be 'doors-f'
        (Virsh nwfilter-list) | Should -Match "(?m)^\s*$($f.Uuid)\s+doors-f\s*$"
    }

    It 'goes through the daemon (-Verbose says so) and Set-NwFilter shows in virsh nwfilter-dumpxml' {
        $uuid = (Get-NwFilter doors-f).Uuid
        $verbose = Set-NwFilter -Xml ((& $FilterXml 2402) -replace "chain='ipv4'>", "chain='ipv4'><uuid>$uuid</uuid>") -Verbose 4>&1
        ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain "Sent to nwfilterd $((Get-Module NwFilter).Version).0 on $Control."
        (Virsh nwfilter-dumpxml doors-f) -join "`n" | Should -Match "dstportstart='2402'"
        Select-String -LiteralPath $Log -Pattern ': DefineFilters$' -Quiet | Should -BeTrue
    }

    It 'makes a binding with Invoke-NwFilterBinding that virsh nwfilter-binding-list shows, with its rules on the kernel' {
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:44:00:01 doors-f -Confirm:$false
        Virsh nwfilter-binding-list | Should -Match '(?m)^\s*vnet0\s+doors-f\s*$'
        Rules | Should -Match '--dport 2402'
        (Get-NwFilterBinding vnet0).Filter | Should -Be 'doors-f'
    }

    It 're-instantiates the binding when either door redefines the filter' {
        $uuid = (Get-NwFilter doors-f).Uuid
        Set-NwFilter -Xml ((& $FilterXml 2403) -replace "chain='ipv4'>", "chain='ipv4'><uuid>$uuid</uuid>")
        $r = Rules
        $r | Should -Match '--dport 2403'
        $r | Should -Not -Match '--dport 2402'
        $file = Join-Path $TestEnv.TempDir 'f2.xml'
        Set-Content -LiteralPath $file -Value ((& $FilterXml 2404) -replace "chain='ipv4'>", "chain='ipv4'><uuid>$uuid</uuid>")
        Virsh nwfilter-define $file | Should -Match 'defined'
        $r = Rules
        $r | Should -Match '--dport 2404'
        $r | Should -Not -Match '--dport 2403'
    }

    It 'changes nothing with -WhatIf, and shows the plan the daemon made' {
        $before = Rules
        $out = Invoke-NwFilterInChild 'Remove-NwFilterBinding vnet0 -WhatIf -Verbose'
        $out | Should -Match 'What if: Remove the binding and rules of port vnet0'
        $out | Should -Match 'delete chain ip filter FI-vnet0'
        $out | Should -Match 'Sent to nwfilterd'
        Virsh nwfilter-binding-list | Should -Match 'vnet0'
        Rules | Should -Be $before
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:44:00:09 doors-f -WhatIf | Out-Null
        (Get-NwFilterBinding vnet0).MacAddress | Should -Be '52:54:00:44:00:01'
    }

    It 'brings the error ids back from the daemon' {
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:44:00:01 no-such-filter -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.InvokeNwFilterBindingCommand'
        $errs[0].TargetObject | Should -Be 'vnet0'
        Remove-NwFilter doors-f -Confirm:$false -ErrorVariable errs2 -ErrorAction SilentlyContinue
        $errs2[0].FullyQualifiedErrorId | Should -BeLike 'FilterInUse,NwFilter.Commands.RemoveNwFilterCommand'
        Get-NwFilter doors-f | Should -Not -BeNullOrEmpty
    }

    It 'removes through the daemon: virsh and the kernel see it' {
        Remove-NwFilterBinding vnet0 -Confirm:$false
        Virsh nwfilter-binding-list | Should -Not -Match 'vnet0'
        Rules | Should -Not -Match '--dport 2404'
        Remove-NwFilter doors-f -Confirm:$false
        Virsh nwfilter-list | Should -Not -Match 'doors-f'
    }

    It 'shows the daemon''s learner in Get-NwFilterBinding: listening, then the address it learned from real traffic' {
        # a binding made through the daemon that learns its IP (clean-traffic, no IP): its learner runs in nwfilterd
        "link add vnet1 type veth peer name peer1`nlink set peer1 address 52:54:00:44:00:02`nlink set vnet1 up" | & ip -n $Ns -batch - | Out-Null
        Invoke-NwFilterBinding vnet1 52:54:00:44:00:02 clean-traffic -Confirm:$false -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message | Should -Contain 'IP address learning for port vnet1 runs in nwfilterd (Get-NwFilterBinding shows what it learned).'
        $b = Get-NwFilterBinding vnet1
        $b.LearningHost | Should -Be 'nwfilterd'
        # the learner opens its capture on a thread of its own (slow on a loaded machine): NotStarted until then
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ($b.LearningState -eq 'NotStarted' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200; $b = Get-NwFilterBinding vnet1 }
        $b.LearningMode | Should -Be 'Any'
        $b.LearningState | Should -Be 'Learning'
        $b.Listening | Should -BeTrue
        $b.LearningHost | Should -Be 'nwfilterd'
        $b.LearningJob | Should -BeNullOrEmpty
        $b.LearnedAddress | Should -BeNullOrEmpty
        # control: this session's own view (no daemon) knows no learner for the port
        $env:NWFILTER_DAEMON = 'inprocess'
        try { $local = Get-NwFilterBinding vnet1 } finally { $env:NWFILTER_DAEMON = 'daemon' }
        $local.LearningState | Should -Be 'NotStarted'
        $local.Listening | Should -BeFalse
        $local.LearningHost | Should -BeNullOrEmpty
        # the "VM" (peer1, the port's other end) sends its first packet: an ARP request from 10.214.0.7
        "link set peer1 up`naddr add 10.214.0.7/24 dev peer1" | & ip -n $Ns -batch - | Out-Null
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            & ip netns exec $Ns ping -n -q -c 1 -W 1 -I peer1 10.214.0.1 2>&1 | Out-Null
            $b = Get-NwFilterBinding vnet1
        } until ($b.LearningState -eq 'Learned' -or [DateTime]::UtcNow -gt $deadline)
        $b.LearningState | Should -Be 'Learned'
        $b.LearningHost | Should -Be 'nwfilterd'
        @($b.LearnedAddress.Address.IPAddressToString) | Should -Be @('10.214.0.7')
        $b.LearnedAddress[0].Source | Should -Be 'Arp'
        Select-String -LiteralPath $Log -Pattern 'learner vnet1' -Quiet | Should -BeTrue
        Remove-NwFilterBinding vnet1 -Confirm:$false
        Get-NwFilterBinding vnet1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'refuses with NwFilterDaemonUnavailable when the daemon is required and stopped, changing nothing' {
        & kill -TERM $Daemon.Id
        $Daemon.WaitForExit(30000) | Should -BeTrue
        $Daemon.ExitCode | Should -Be 0
        Set-NwFilter -Xml (& $FilterXml 2405) -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'NwFilterDaemonUnavailable,NwFilter.Commands.SetNwFilterCommand'
        Get-NwFilter doors-f -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:44:00:01 clean-traffic -Parameter @{ IP = '192.0.2.9' } -Confirm:$false -ErrorVariable errs3 -ErrorAction SilentlyContinue
        $errs3[0].FullyQualifiedErrorId | Should -Be 'NwFilterDaemonUnavailable,NwFilter.Commands.InvokeNwFilterBindingCommand'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
