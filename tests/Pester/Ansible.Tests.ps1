# The Ansible modules (contrib/ansible: nwfilter_filter, nwfilter_binding) as ansible-core runs them on a Linux
# target: `ansible localhost -c local -m ...`, through the module's JSON entry point (nwfilter.dsc.ps1). Check mode
# changes nothing, --diff shows what would change, a second run is unchanged, a refused input fails and changes nothing.
# Every test runs twice: without nwfilterd (nwfilterctl hands each call to the pwsh entry) and with a real nwfilterd on
# a test socket (the module's pwsh option is then a tripwire: no pwsh may start); the two runs must print the same.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoAnsible = -not (Test-NwFilterResource ansible ([bool] (Get-Command ansible -CommandType Application -ErrorAction SilentlyContinue)) 'ansible (ansible-core) is not installed')
    $script:NoKernel = $NoAnsible -or -not (Test-NwFilterKernelTests)
    $daemonExe = Join-Path (Get-NwFilterRepositoryRoot) 'out/nwfilterd/nwfilterd'
    $script:NoDaemon = $NoKernel -or -not (Test-NwFilterResource tools (Test-Path -LiteralPath $daemonExe) "$daemonExe is missing (build.ps1 -Task Layout)")
    $script:Doors = @(@{ Door = 'pwsh' }, @{ Door = 'nwfilterd' })
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterTestNamespace -Ports 1
    $root = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
    $script:ModulePath = Join-Path $root 'out/NwFilter'
    $script:Shim = New-NwFilterPwshShim (Join-Path $TestDrive 'bin')
    $script:Tripwire = New-NwFilterPwshTripwire (Join-Path $TestDrive 'tripwire')
    $script:Saved = @{ NWFILTER_DAEMON = $env:NWFILTER_DAEMON; NWFILTER_DAEMON_SOCKET = $env:NWFILTER_DAEMON_SOCKET }
    $script:Daemon = $null
    $script:CurrentDoor = $null
    # Every ansible run and what it printed, per door: the same runs on the same states must print the same.
    $script:Runs = @{ pwsh = [Collections.Generic.List[string]]::new(); nwfilterd = [Collections.Generic.List[string]]::new() }
    function script:Use-Door([string] $Door) {
        $script:CurrentDoor = $Door
        if ($Door -eq 'nwfilterd') {
            if (-not $script:Daemon) { $script:Daemon = Start-NwFilterTestDaemon -Namespace $Lab -Directory (Join-Path $TestEnv.TempDir 'daemon') }
            $env:NWFILTER_DAEMON = 'daemon'
            $env:NWFILTER_DAEMON_SOCKET = $Daemon.Control
        }
        else {
            $env:NWFILTER_DAEMON = 'auto'
            $env:NWFILTER_DAEMON_SOCKET = Join-Path $TestDrive 'no-nwfilterd.sock'
        }
    }
    $script:Web = "<filter name='web' chain='root'><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>"
    $script:Web443 = "<filter name='web' chain='root'><rule action='accept' direction='in' priority='500'><tcp dstportstart='443'/></rule></filter>"

    function script:Invoke-Ansible([string] $Module, [hashtable] $Arguments, [switch] $Check) {
        # One ad-hoc run with --diff, printed by ansible's default ad-hoc output: the diff as text, then
        # "localhost | CHANGED => {json}" (SUCCESS, FAILED!). Status and result come from that line, the diff from before it.
        $all = @{ module_path = $ModulePath; config_dir = $TestEnv.ConfigDir; state_dir = $TestEnv.StateDir; daemon_socket = $env:NWFILTER_DAEMON_SOCKET }
        if ($CurrentDoor -eq 'nwfilterd') { $all['daemon'] = 'daemon'; $all['pwsh'] = Join-Path $Tripwire 'pwsh' }
        else { $all['daemon'] = 'auto'; $all['pwsh'] = Join-Path $Shim 'pwsh' }
        if ($Lab) { $all['network_namespace'] = $Lab }
        foreach ($k in $Arguments.Keys) { $all[$k] = $Arguments[$k] }
        $env:ANSIBLE_MODULE_UTILS = Join-Path $root 'contrib/ansible/module_utils'
        $env:ANSIBLE_NOCOLOR = '1'
        $ansibleArgs = @('localhost', '-i', 'localhost,', '-c', 'local', '-M', (Join-Path $root 'contrib/ansible/library'),
            '-m', $Module, '-a', ($all | ConvertTo-Json -Compress -Depth 5), '--diff')
        if ($Check) { $ansibleArgs += '--check' }
        $out = (& ansible @ansibleArgs 2>&1) -join "`n"
        $exit = $LASTEXITCODE
        if ($out -notmatch '(?s)^(?<diff>.*?)localhost \| (?<status>[A-Z]+)!? => (?<json>\{.*\})\s*$') { throw "Unexpected ansible output:`n$out" }
        $script:Runs[$CurrentDoor].Add("$Module $($Arguments | ConvertTo-Json -Compress -Depth 5) check=$Check => exit $exit`n$out")
        [pscustomobject]@{ ExitCode = $exit; Status = $Matches.status; Result = ($Matches.json | ConvertFrom-Json -AsHashtable); Diff = $Matches.diff }
    }
    function script:Get-StoreHash { (Get-ChildItem -LiteralPath $TestEnv.ConfigDir -File | Get-FileHash | ForEach-Object { "$($_.Path)=$($_.Hash)" }) -join ';' }
}
AfterAll {
    Stop-NwFilterTestDaemon $script:Daemon
    foreach ($k in $Saved.Keys) { [Environment]::SetEnvironmentVariable($k, $Saved[$k]) }
    Remove-Item Env:ANSIBLE_MODULE_UTILS, Env:ANSIBLE_NOCOLOR -ErrorAction SilentlyContinue
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Ansible modules through <Door>' -ForEach $Doors {
    BeforeAll { if (-not ($Door -eq 'nwfilterd' -and $NoDaemon)) { Use-Door $Door } }

    Describe 'Ansible module nwfilter_filter' -Skip:($NoAnsible -or ($Door -eq 'nwfilterd' -and $NoDaemon)) {
        It 'in check mode reports a change with its diff and stores nothing' {
            $r = Invoke-Ansible nwfilter_filter @{ name = 'web'; xml = $Web } -Check
            $r.ExitCode | Should -Be 0
            $r.Result.changed | Should -BeTrue
            $r.Status | Should -Be 'CHANGED'
            $r.Diff | Should -Match "(?m)^\+\+\+ after: filter"
            $r.Diff | Should -Match "(?m)^\+.*dstportstart='22'"
            $r.Result.state._exist | Should -BeTrue
            Join-Path $TestEnv.ConfigDir 'web.xml' | Should -Not -Exist
        }

        It 'defines the filter, and a second run is unchanged and rewrites nothing' {
            $r = Invoke-Ansible nwfilter_filter @{ name = 'web'; xml = $Web }
            $r.Result.changed | Should -BeTrue
            @((Get-NwFilter web).Rules).Count | Should -Be 1
            $before = Get-StoreHash
            $again = Invoke-Ansible nwfilter_filter @{ name = 'web'; xml = $Web }
            $again.ExitCode | Should -Be 0
            $again.Result.changed | Should -BeFalse
            $again.Status | Should -Be 'SUCCESS'
            $again.Diff.Trim() | Should -BeNullOrEmpty
            Get-StoreHash | Should -Be $before
        }

        It 'changes the filter with a diff of the XML' {
            $r = Invoke-Ansible nwfilter_filter @{ name = 'web'; xml = $Web443 }
            $r.Result.changed | Should -BeTrue
            $r.Diff | Should -Match "(?m)^-.*dstportstart='22'"
            $r.Diff | Should -Match "(?m)^\+.*dstportstart='443'"
            (ConvertTo-NwFilterXml -InputObject (Get-NwFilter web)) | Should -Match "dstportstart='443'"
        }

        It 'fails on XML that does not parse, naming the problem, and changes nothing' {
            $before = Get-StoreHash
            $r = Invoke-Ansible nwfilter_filter @{ name = 'web'; xml = "<filter name='web'><rule action='accept'" }
            $r.ExitCode | Should -Not -Be 0
            $r.Status | Should -Be 'FAILED'
            $r.Result.msg | Should -Match "\$\.filters\[0\]\.xml: The XML of filter 'web' does not read"
            $r.Result.rc | Should -Be 2
            Get-StoreHash | Should -Be $before
        }

        It 'removes the filter (state absent), and again is unchanged' {
            (Invoke-Ansible nwfilter_filter @{ name = 'web'; state = 'absent' } -Check).Result.changed | Should -BeTrue
            Get-NwFilter web | Should -Not -BeNullOrEmpty
            (Invoke-Ansible nwfilter_filter @{ name = 'web'; state = 'absent' }).Result.changed | Should -BeTrue
            Get-NwFilter web -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            (Invoke-Ansible nwfilter_filter @{ name = 'web'; state = 'absent' }).Result.changed | Should -BeFalse
        }
    }

    Describe 'Ansible module nwfilter_binding' -Skip:($NoKernel -or ($Door -eq 'nwfilterd' -and $NoDaemon)) {
        BeforeAll { Set-NwFilter -Xml "<filter name='web' chain='root'><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>" -Confirm:$false }
        AfterAll { Remove-NwFilter web -Confirm:$false -ErrorAction SilentlyContinue }

        It 'binds a port (check mode first), converges, and removes it' {
            $want = @{ port_device = 'vnet0'; mac_address = '52:54:00:7b:35:93'; filter = 'web'; parameters = @{ IP = '10.0.0.5' }; backend = 'EbIpTables' }
            $kernel = Get-NwFilterTestSave $Lab
            $check = Invoke-Ansible nwfilter_binding $want -Check
            $check.Result.changed | Should -BeTrue
            $check.Diff | Should -Match '(?m)^\+.*10\.0\.0\.5'
            Get-NwFilterTestSave $Lab | Should -Be $kernel
            Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

            (Invoke-Ansible nwfilter_binding $want).Result.changed | Should -BeTrue
            Get-NwFilterTestSave $Lab | Should -Match '-A PREROUTING -i vnet0 -j libvirt-I-vnet0'
            $kernel = Get-NwFilterTestSave $Lab
            $again = Invoke-Ansible nwfilter_binding $want
            $again.Result.changed | Should -BeFalse
            Get-NwFilterTestSave $Lab | Should -Be $kernel

            (Invoke-Ansible nwfilter_binding @{ port_device = 'vnet0'; state = 'absent' }).Result.changed | Should -BeTrue
            Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet0'
        }

        It 'turns per-rule counters on with counters, and a task without it changes nothing' {
            $want = @{ port_device = 'vnet0'; mac_address = '52:54:00:7b:35:93'; filter = 'web'; parameters = @{ IP = '10.0.0.5' }; backend = 'Nftables' }
            $on = Invoke-Ansible nwfilter_binding ($want + @{ counters = $true })
            $on.Result.changed | Should -BeTrue
            $on.Result.state.counters | Should -BeTrue
            (& ip netns exec $Lab nft list table bridge nwfilter | Out-String) | Should -Match 'counter packets'
            (Invoke-Ansible nwfilter_binding $want).Result.changed | Should -BeFalse -Because 'a task without counters leaves the port''s setting'
            (Invoke-Ansible nwfilter_binding ($want + @{ counters = $false })).Result.changed | Should -BeTrue
            (& ip netns exec $Lab nft list table bridge nwfilter | Out-String) | Should -Not -Match 'counter packets'
            (Invoke-Ansible nwfilter_binding @{ port_device = 'vnet0'; state = 'absent' }).Result.changed | Should -BeTrue
        }

        It 'fails on a binding to a missing filter and binds nothing' {
            $r = Invoke-Ansible nwfilter_binding @{ port_device = 'vnet0'; mac_address = '52:54:00:7b:35:93'; filter = 'nope' }
            $r.Status | Should -Be 'FAILED'
            $r.Result.msg | Should -Match '\$\.bindings\[0\]\.filter'
            Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }

    # Only for the daemon door (defined at discovery, where the door is known).
    if ($Door -eq 'nwfilterd') {
        It 'went through nwfilterd and started no pwsh' -Skip:$NoDaemon {
            $log = Get-Content -Raw -LiteralPath $Daemon.Log
            $log | Should -Match ': StateResource filter set'
            $log | Should -Match ': StateResource binding test'
            Join-Path $Tripwire 'pwsh-started' | Should -Not -Exist
            # The tripwire's positive control: the same module told to work in-process starts pwsh, and trips it.
            (Invoke-Ansible nwfilter_filter @{ name = 'web'; state = 'absent'; daemon = 'inprocess' }).Status | Should -Be 'FAILED'
            Join-Path $Tripwire 'pwsh-started' | Should -Exist
            $Runs.nwfilterd.RemoveAt($Runs.nwfilterd.Count - 1)
        }
    }
}

Describe 'The Ansible modules print through nwfilterd what they print through pwsh' -Skip:$NoDaemon {
    It 'for every run above: status, changed, state, diff and failure message' {
        $Runs.pwsh.Count | Should -BeGreaterThan 10
        $Runs.nwfilterd.Count | Should -Be $Runs.pwsh.Count
        for ($i = 0; $i -lt $Runs.pwsh.Count; $i++) { $Runs.nwfilterd[$i] | Should -BeExactly $Runs.pwsh[$i] }
    }
}
