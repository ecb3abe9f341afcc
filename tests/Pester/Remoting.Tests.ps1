# The cmdlets over PowerShell remoting's SSH transport, as an admin fans out to many hosts: an sshd of the test's own
# (from apt's openssh-server; its own port, host key, authorized key and config, `Subsystem powershell pwsh -sshs`)
# serves two sessions on localhost, each a separate pwsh with its own store, standing for two hosts. What comes back
# is deserialized: the tests read properties (methods do not survive remoting) and the views of the local module.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $present = $IsLinux -and (Test-Path /usr/sbin/sshd) -and [bool] (Get-Command ssh -CommandType Application -ErrorAction SilentlyContinue)
    $script:NoSshd = -not (Test-NwFilterResource sshd $present 'sshd (openssh-server) and ssh (openssh-client) are not installed')
    if (-not $NoSshd) {
        $script:NoSshd = -not (Test-NwFilterResource root ((& id -u) -eq '0') 'the test sshd runs as root (privilege separation)')
    }
    $script:NoKernel = $NoSshd -or -not (Test-NwFilterKernelTests)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    Import-NwFilterModule
    $script:Manifest = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter/NwFilter.psd1'))
    $script:Web = "<filter name='web' chain='root'><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='443'/></rule></filter>"
    $script:Sessions = @()
    $script:Sshd = $null
    if ($NoSshd) { return }

    $dir = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'ssh')
    & ssh-keygen -q -t ed25519 -N '' -f (Join-Path $dir 'host_key')
    & ssh-keygen -q -t ed25519 -N '' -f (Join-Path $dir 'user_key')
    Copy-Item (Join-Path $dir 'user_key.pub') (Join-Path $dir 'authorized_keys')
    $shim = New-NwFilterPwshShim (Join-Path $dir 'bin')
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $listener.Start()
    $script:Port = $listener.LocalEndpoint.Port; $listener.Stop()
    Set-Content -LiteralPath (Join-Path $dir 'sshd_config') -Value @"
Port $Port
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $dir/sshd.pid
Subsystem powershell $shim/pwsh -sshs -NoLogo -NoProfile
"@
    [void] (New-Item -ItemType Directory -Force -Path /run/sshd)
    $script:Sshd = Start-Process -FilePath /usr/sbin/sshd -ArgumentList '-D', '-f', (Join-Path $dir 'sshd_config'), '-E', (Join-Path $dir 'sshd.log') -PassThru
    $deadline = [DateTime]::UtcNow.AddSeconds(20)
    while ($true) {
        try { $c = [Net.Sockets.TcpClient]::new('127.0.0.1', $Port); $c.Dispose(); break }
        catch { if ([DateTime]::UtcNow -gt $deadline -or $Sshd.HasExited) { throw "sshd did not listen on $Port`n$(Get-Content -Raw (Join-Path $dir 'sshd.log') -ErrorAction SilentlyContinue)" }; Start-Sleep -Milliseconds 100 }
    }

    function script:New-HostSession([string] $Name) {
        # One "host": a remote pwsh with the module imported and a store of its own.
        $s = New-PSSession -HostName 127.0.0.1 -Port $Port -UserName (& id -un) -KeyFilePath (Join-Path $dir 'user_key') -Name $Name `
            -Options @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' } -ErrorAction Stop
        $config = New-Item -ItemType Directory -Path (Join-Path $TestDrive "$Name/config")
        $state = New-Item -ItemType Directory -Path (Join-Path $TestDrive "$Name/state")
        Invoke-Command -Session $s -ArgumentList $Manifest, $config.FullName, $state.FullName {
            param($manifest, $config, $state)
            $ErrorActionPreference = 'Stop'
            $env:NWFILTER_CONFIG_DIR = $config; $env:NWFILTER_STATE_DIR = $state
            Import-Module $manifest
        }
        $s
    }
    $script:Sessions = @(New-HostSession hostA; New-HostSession hostB)
    $script:TestEnv = Initialize-NwFilterTestEnvironment
}
AfterAll {
    if ($script:Sessions) { $script:Sessions | Remove-PSSession }
    if ($script:Sshd -and -not $script:Sshd.HasExited) { $script:Sshd.Kill(); $script:Sshd.WaitForExit() }
    if (Get-Variable -Name TestEnv -Scope Script -ErrorAction SilentlyContinue) { Remove-NwFilterTestEnvironment $script:TestEnv }
}

Describe 'The cmdlets over SSH remoting' -Skip:$NoSshd {
    It 'fans one filter out to every host, and the hosts compare equal by StateHash' {
        Invoke-Command -Session $Sessions -ThrottleLimit 2 -ArgumentList $Web { param($xml) Set-NwFilter -Xml $xml -Confirm:$false }
        $states = @(Invoke-Command -Session $Sessions { Get-NwFilterState })
        $states.Count | Should -Be 2
        $states[0].PSTypeNames[0] | Should -Be 'Deserialized.NwFilter.Core.DesiredState.NwFilterState'
        $states[0].StateHash | Should -Match '^[0-9a-f]{64}$'
        $states[0].StateHash | Should -Be $states[1].StateHash
        @($states | Sort-Object RunspaceId -Unique).Count | Should -Be 2
    }

    It 'brings filters back as objects whose properties and local views survive' {
        $web = Invoke-Command -Session $Sessions[0] { Get-NwFilter web }
        $web.PSTypeNames[0] | Should -Be 'Deserialized.NwFilter.Core.Model.FilterDefinition'
        $web.Name | Should -Be 'web'
        $web.Origin | Should -Be 'Defined'   # an enum travels as its name (Types.ps1xml)
        $web.PSComputerName | Should -Be '127.0.0.1'
        # The local module's table view applies to the deserialized type: its columns, not every property.
        $table = $web | Format-Table | Out-String
        $table | Should -Match '(?m)^Name\s+Origin\s+Uuid'
        $table | Should -Not -Match 'RunspaceId'
    }

    It 'brings errors back with their NwFilter error id' {
        $errs = $null
        Invoke-Command -Session $Sessions[0] { Get-NwFilter no-such-filter } -ErrorAction SilentlyContinue -ErrorVariable errs
        @($errs).Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.GetNwFilterCommand'
    }

    It 'compares this host with a remote one (migration closure) and makes it the same with Set-NwFilterState' {
        $remote = Invoke-Command -Session $Sessions[0] { Get-NwFilterState }
        Test-NwFilterState -InputObject $remote -Quiet | Should -BeFalse
        $plan = Test-NwFilterState -InputObject $remote
        @($plan.Differences | ForEach-Object { "$($_.Kind) '$($_.Name)': $($_.Change)" }) | Should -Contain "Filter 'web': Missing"
        Set-NwFilterState -InputObject $remote -Confirm:$false
        Test-NwFilterState -InputObject $remote -Quiet | Should -BeTrue
        @((Get-NwFilter web).Rules).Count | Should -Be 1
        # The migration check of the remote host's state from here: what a binding here needs, the target has.
        $check = Test-NwFilterState -ReferenceObject (Invoke-Command -Session $Sessions[1] { Get-NwFilterState })
        $check.InDesiredState | Should -BeTrue
    }

    It 'applies, reads and checks a binding on the remote host' -Skip:$NoKernel {
        $lab = New-NwFilterTestNamespace -Ports 1
        try {
            $binding = Invoke-Command -Session $Sessions[1] -ArgumentList $lab {
                param($netns)
                $env:NWFILTER_NETNS = $netns
                Invoke-NwFilterBinding -PortDevice vnet0 -MacAddress 52:54:00:aa:bb:01 -Filter web -Parameter @{ IP = '10.9.0.5' } -Backend EbIpTables -Confirm:$false -PassThru
            }
            $binding.PortDevice | Should -Be 'vnet0'
            $binding.Filter | Should -Be 'web'
            $test = Invoke-Command -Session $Sessions[1] { Test-NwFilterBinding -PortDevice vnet0 }
            $test.Status | Should -Be 'InSync'
            (& ip netns exec $lab ebtables-save) -join "`n" | Should -Match 'libvirt-I-vnet0'
            Invoke-Command -Session $Sessions[1] { Remove-NwFilterBinding -PortDevice vnet0 -Confirm:$false }
            (& ip netns exec $lab ebtables-save) -join "`n" | Should -Not -Match 'libvirt-I-vnet0'
        }
        finally { Remove-NwFilterTestNamespace $lab }
    }
}
