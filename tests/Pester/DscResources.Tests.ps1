# The DSC v3 command resources (NwFilter/Filter, NwFilter/Binding, NwFilter/State) as the dsc CLI drives them: the CLI is not
# obtainable here, so /work/shared/tools/dsc-lite invokes the manifests in out/NwFilter as dsc's command_resource.rs does.
# The manifests run nwfilterd/nwfilterctl; every test runs twice: without nwfilterd (nwfilterctl hands the call to the
# pwsh entry nwfilter.dsc.ps1) and with a real nwfilterd on a test socket (no pwsh may start: "pwsh" on PATH and
# NWFILTER_PWSH are a tripwire then). A last block compares the two doors' outputs, exit codes and errors directly.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:DscLite = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../../shared/tools/dsc-lite'))
    $script:NoTools = -not (Test-NwFilterResource shared-tools (Test-Path -LiteralPath $DscLite) "dsc-lite is not at $DscLite")
    $script:NoKernel = $NoTools -or -not (Test-NwFilterKernelTests)
    $daemonExe = Join-Path (Get-NwFilterRepositoryRoot) 'out/nwfilterd/nwfilterd'
    # nwfilterd serves the namespace it runs in: the daemon door needs the lab namespace (root) and the laid-out daemon.
    $script:NoDaemon = $NoKernel -or -not (Test-NwFilterResource tools (Test-Path -LiteralPath $daemonExe) "$daemonExe is missing (build.ps1 -Task Layout)")
    $script:Doors = @(@{ Door = 'pwsh' }, @{ Door = 'nwfilterd' })
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterTestNamespace -Ports 2
    $script:DscLite = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../../shared/tools/dsc-lite'))
    $script:Mac = '52:54:00:7b:35:93'
    $script:Web = "<filter name='web' chain='root'><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>"
    # Without nwfilterd the manifests end in "pwsh": a shim on PATH that starts this very PowerShell.
    $script:Shim = New-NwFilterPwshShim (Join-Path $TestDrive 'bin')
    $script:Tripwire = New-NwFilterPwshTripwire (Join-Path $TestDrive 'tripwire')
    $script:Ctl = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter/nwfilterd/nwfilterctl'))
    $script:Saved = @{ PATH = $env:PATH; NWFILTER_DAEMON = $env:NWFILTER_DAEMON; NWFILTER_DAEMON_SOCKET = $env:NWFILTER_DAEMON_SOCKET; NWFILTER_PWSH = $env:NWFILTER_PWSH }
    $env:DSC_RESOURCE_PATH = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter'))
    $script:Daemon = $null
    # Every dsc-lite call and what it printed, per door: the same calls on the same states must print the same.
    $script:Calls = @{ pwsh = [Collections.Generic.List[string]]::new(); nwfilterd = [Collections.Generic.List[string]]::new() }
    $script:CurrentDoor = $null
    function script:Use-Door([string] $Door) {
        $script:CurrentDoor = $Door
        if ($Door -eq 'nwfilterd') {
            if (-not $script:Daemon) { $script:Daemon = Start-NwFilterTestDaemon -Namespace $Lab -Directory (Join-Path $TestEnv.TempDir 'daemon') }
            $env:NWFILTER_DAEMON = 'daemon'
            $env:NWFILTER_DAEMON_SOCKET = $Daemon.Control
            $env:NWFILTER_PWSH = Join-Path $Tripwire 'pwsh'
            $env:PATH = "$Tripwire$([IO.Path]::PathSeparator)$($Saved.PATH)"
        }
        else {
            # No daemon answers on this socket: nwfilterctl falls back to the pwsh entry, as on a host without nwfilterd.
            $env:NWFILTER_DAEMON = 'auto'
            $env:NWFILTER_DAEMON_SOCKET = Join-Path $TestDrive 'no-nwfilterd.sock'
            $env:NWFILTER_PWSH = $null
            $env:PATH = "$Shim$([IO.Path]::PathSeparator)$($Saved.PATH)"
        }
    }
    function script:Dsc([string] $Operation, [string] $Type, $Instance, [switch] $WhatIf) {
        $dscArgs = @('resource', $Operation, '-r', $Type)
        if ($null -ne $Instance) { $dscArgs += @('-i', ($Instance | ConvertTo-Json -Compress -Depth 6)) }
        if ($WhatIf) { $dscArgs += '-w' }
        $out = & python3 $DscLite @dscArgs 2>&1
        $exit = $LASTEXITCODE
        $text = @($out | Where-Object { $_ -is [string] })
        $r = [pscustomobject]@{
            ExitCode = $exit
            Result   = if ($exit -eq 0 -and $text.Count -gt 0) { $text[-1] | ConvertFrom-Json -AsHashtable } else { $null }
            Errors   = @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object ToString)
        }
        # dsc-lite lists changedProperties from a Python set (its order varies by process) and names its own PID.
        $printed = if ($r.Result) {
            $copy = $text[-1] | ConvertFrom-Json -AsHashtable
            if ($copy.Contains('changedProperties') -and $copy.changedProperties) { $copy.changedProperties = @($copy.changedProperties | Sort-Object) }
            $copy | ConvertTo-Json -Compress -Depth 10
        }
        $script:Calls[$script:CurrentDoor].Add("dsc-lite $($dscArgs -join ' ') => exit $exit $printed $(($r.Errors -join ' | ') -replace 'PID \d+', 'PID n')")
        $r
    }
    # nwfilterctl itself, through one door: stdout lines, stderr lines and exit code.
    function script:Ctl([string] $Door, [string] $Resource, [string] $Operation, [string] $Json, [switch] $WhatIf) {
        Use-Door $Door
        if ($Door -eq 'pwsh') { $env:NWFILTER_DAEMON = 'inprocess'; $env:NWFILTER_PWSH = Join-Path $Shim 'pwsh' }
        $ctlArgs = @('dsc', $Resource, $Operation) + @(if ($WhatIf) { '-WhatIf' })
        $out = if ($null -ne $Json) { $Json | & $Ctl @ctlArgs 2>&1 } else { & $Ctl @ctlArgs 2>&1 }
        [pscustomobject]@{
            ExitCode = $LASTEXITCODE
            Stdout   = @($out | Where-Object { $_ -is [string] }) -join "`n"
            Stderr   = @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object ToString) -join "`n"
        }
    }
}
AfterAll {
    Stop-NwFilterTestDaemon $script:Daemon
    foreach ($k in $Saved.Keys) { [Environment]::SetEnvironmentVariable($k, $Saved[$k]) }
    Remove-Item Env:DSC_RESOURCE_PATH -ErrorAction SilentlyContinue
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'DSC resources through <Door>' -ForEach $Doors {
    BeforeAll { if (-not ($Door -eq 'nwfilterd' -and $NoDaemon)) { Use-Door $Door } }

    Describe 'DSC resource NwFilter/Filter' -Skip:($NoTools -or ($Door -eq 'nwfilterd' -and $NoDaemon)) {
        It 'ships its manifest, its client and the pwsh entry in the module folder' {
            Join-Path $env:DSC_RESOURCE_PATH 'filter.dsc.resource.json' | Should -Exist
            Join-Path $env:DSC_RESOURCE_PATH 'nwfilter.dsc.ps1' | Should -Exist
            $m = Get-Content -Raw (Join-Path $env:DSC_RESOURCE_PATH 'filter.dsc.resource.json') | ConvertFrom-Json
            Join-Path $env:DSC_RESOURCE_PATH $m.get.executable | Should -Exist
            $m.set.implementsPretest | Should -BeTrue
            $m.set.return | Should -Be 'state'
            $m.test.return | Should -Be 'state'
        }

        It 'gets a filter that does not exist as _exist false' {
            $r = Dsc get NwFilter/Filter @{ name = 'web' }
            $r.ExitCode | Should -Be 0
            $r.Result.actualState._exist | Should -BeFalse
        }

        It 'tests with our own test (not synthetic), sets, and a second set changes nothing' {
            (Dsc test NwFilter/Filter @{ name = 'web'; xml = $Web }).Result.inDesiredState | Should -BeFalse
            $set = Dsc set NwFilter/Filter @{ name = 'web'; xml = $Web }
            $set.ExitCode | Should -Be 0
            $set.Result.afterState._exist | Should -BeTrue
            $set.Result.changedProperties | Should -Contain '_exist'
            (Get-NwFilter web).Uuid | Should -Not -BeNullOrEmpty
            # The store canonicalises the XML and adds a UUID, so dsc's synthetic test would never converge; ours does.
            $test = Dsc test NwFilter/Filter @{ name = 'web'; xml = $Web }
            $test.Result.inDesiredState | Should -BeTrue
            $test.Result.differingProperties | Should -Contain 'xml'
            $file = Join-Path $TestEnv.ConfigDir 'web.xml'
            $hash = (Get-FileHash -LiteralPath $file).Hash
            $again = Dsc set NwFilter/Filter @{ name = 'web'; xml = $Web }
            $again.Result.changedProperties | Should -BeNullOrEmpty
            (Get-FileHash -LiteralPath $file).Hash | Should -Be $hash
        }

        It 'changes nothing with what-if' {
            $file = Join-Path $TestEnv.ConfigDir 'web.xml'
            $hash = (Get-FileHash -LiteralPath $file).Hash
            $r = Dsc set NwFilter/Filter @{ name = 'web'; xml = ($Web -replace "'22'", "'80'") } -WhatIf
            $r.ExitCode | Should -Be 0
            $r.Result.afterState.xml | Should -Match "'80'"
            (Get-FileHash -LiteralPath $file).Hash | Should -Be $hash
        }

        It 'exports the defined filters, one resource each' {
            $r = Dsc export NwFilter/Filter
            @($r.Result.resources.properties.name) | Should -Be @('web')
        }

        It 'fails with a JSON error and exit code for bad input, changing nothing' {
            $r = Dsc set NwFilter/Filter @{ name = 'web'; xml = "<filter name='web'><rule action='nope' direction='in'/></filter>" }
            $r.ExitCode | Should -Be 2
            ($r.Errors -join "`n") | Should -Match 'ERROR PID \d+: .*\$\.filters\[0\]\.xml'
            ($r.Errors -join "`n") | Should -Match 'exit code 2\] Invalid input'
            (Get-NwFilter web | ConvertTo-NwFilterXml) | Should -Match "dstportstart='22'"
            (Dsc get NwFilter/Filter @{ name = 'web'; colour = 'red' }).ExitCode | Should -Be 2
        }

        It 'removes a filter with _exist false' {
            $r = Dsc set NwFilter/Filter @{ name = 'web'; _exist = $false }
            $r.Result.afterState._exist | Should -BeFalse
            Get-NwFilter web -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }

    Describe 'DSC resource NwFilter/State (the whole host)' -Skip:($NoTools -or ($Door -eq 'nwfilterd' -and $NoDaemon)) {
        AfterAll { Remove-NwFilter web -Confirm:$false -ErrorAction SilentlyContinue }

        It 'gets the host with its StateHash, tests a document, sets it, and a second set changes nothing' {
            $doc = @{ filters = @(@{ name = 'web'; xml = $Web }) }
            $get = Dsc get NwFilter/State @{}
            $get.ExitCode | Should -Be 0
            $get.Result.actualState.stateHash | Should -Be (Get-NwFilterState).StateHash
            (Dsc test NwFilter/State $doc).Result.inDesiredState | Should -BeFalse
            $set = Dsc set NwFilter/State $doc
            $set.ExitCode | Should -Be 0
            $set.Result.afterState.stateHash | Should -Be (Get-NwFilterState).StateHash
            @($set.Result.afterState.filters | Where-Object name -EQ 'web').Count | Should -Be 1
            (Dsc test NwFilter/State $doc).Result.inDesiredState | Should -BeTrue
            $file = Join-Path $TestEnv.ConfigDir 'web.xml'
            $hash = (Get-FileHash -LiteralPath $file).Hash
            (Dsc set NwFilter/State $doc).Result.changedProperties | Should -BeNullOrEmpty
            (Get-FileHash -LiteralPath $file).Hash | Should -Be $hash
            $export = Dsc export NwFilter/State
            @($export.Result.resources).Count | Should -Be 1
            $export.Result.resources[0].properties.stateHash | Should -Be (Get-NwFilterState).StateHash
        }

        It 'refuses a document with a wrong key, naming its JSON path, and changes nothing' {
            $before = (Get-NwFilterState).StateHash
            $r = Dsc set NwFilter/State @{ filters = @(@{ name = 'web2'; xm1 = $Web }) }
            $r.ExitCode | Should -Be 2
            ($r.Errors -join "`n") | Should -Match '\$\.filters\[0\]\.xm1'
            (Get-NwFilterState).StateHash | Should -Be $before
        }
    }

    Describe 'DSC resource NwFilter/Binding' -Skip:($NoKernel -or ($Door -eq 'nwfilterd' -and $NoDaemon)) {
        BeforeAll { Set-NwFilter -Xml $Web -Confirm:$false }
        AfterAll { Remove-NwFilter web -Confirm:$false -ErrorAction SilentlyContinue }

        It 'binds a port, converges, and removes it' {
            $want = @{ portDevice = 'vnet0'; macAddress = $Mac; filter = 'web'; parameters = @{ IP = '10.0.0.5' } }
            (Dsc test NwFilter/Binding $want).Result.inDesiredState | Should -BeFalse
            $set = Dsc set NwFilter/Binding $want
            $set.ExitCode | Should -Be 0
            $set.Result.afterState.filter | Should -Be 'web'
            # No backend in the instance: the host's default (nftables here), as Invoke-NwFilterBinding without -Backend.
            $set.Result.afterState.backend | Should -Be 'Nftables'
            (& ip netns exec $Lab nft list ruleset | Out-String) | Should -Match 'chain vnet0/'
            (Dsc test NwFilter/Binding $want).Result.inDesiredState | Should -BeTrue
            $kernel = Get-NwFilterTestSave $Lab
            (Dsc set NwFilter/Binding $want).Result.changedProperties | Should -BeNullOrEmpty
            Get-NwFilterTestSave $Lab | Should -Be $kernel
            @((Dsc export NwFilter/Binding).Result.resources.properties.portDevice) | Should -Be @('vnet0')
            (Dsc set NwFilter/Binding @{ portDevice = 'vnet0'; _exist = $false }).Result.afterState._exist | Should -BeFalse
            Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet0'
            (& ip netns exec $Lab nft list ruleset | Out-String) | Should -Not -Match 'vnet0/'
        }

        It 'turns per-rule counters on and off through counters, and an instance without it keeps the port''s' {
            $want = @{ portDevice = 'vnet0'; macAddress = $Mac; filter = 'web'; parameters = @{ IP = '10.0.0.5' } }
            $on = Dsc set NwFilter/Binding ($want + @{ counters = $true })
            $on.ExitCode | Should -Be 0
            $on.Result.afterState.counters | Should -BeTrue
            (& ip netns exec $Lab nft list table bridge nwfilter | Out-String) | Should -Match 'counter packets'
            Get-NwFilterBinding vnet0 | ConvertTo-NwFilterXml | Should -Match "enabled='yes'"
            (Dsc test NwFilter/Binding $want).Result.inDesiredState | Should -BeTrue -Because 'an instance without counters leaves them to the port'
            (Dsc test NwFilter/Binding ($want + @{ counters = $false })).Result.inDesiredState | Should -BeFalse
            $off = Dsc set NwFilter/Binding ($want + @{ counters = $false })
            $off.Result.afterState.counters | Should -BeFalse
            (& ip netns exec $Lab nft list table bridge nwfilter | Out-String) | Should -Not -Match 'counter packets'
            (Dsc get NwFilter/Binding @{ portDevice = 'vnet0' }).Result.actualState.counters | Should -BeFalse
            (Dsc set NwFilter/Binding ($want + @{ counters = 'yes' })).ExitCode | Should -Be 2
            (Dsc set NwFilter/Binding @{ portDevice = 'vnet0'; _exist = $false }).Result.afterState._exist | Should -BeFalse
        }

        It 'exits 1 for a change the host cannot make, 2 for bad input, and applies neither' {
            # iptables-restore refuses a match on an ipset the host does not have: the instance is valid, the host fails.
            Set-NwFilter -Xml "<filter name='with-ipset' chain='root'><rule action='drop' direction='in' priority='500'><all ipset='nwft-no-such-set' ipsetflags='src'/></rule></filter>" -Confirm:$false
            try {
                $kernel = Get-NwFilterTestSave $Lab
                $r = Dsc set NwFilter/Binding @{ portDevice = 'vnet0'; macAddress = $Mac; filter = 'with-ipset'; backend = 'EbIpTables' }
                # dsc fails the call (its exit 2) and names the resource's own exit code: 1, the change failed.
                $r.ExitCode | Should -Be 2
                ($r.Errors -join "`n") | Should -Match 'nwft-no-such-set'
                ($r.Errors -join "`n") | Should -Match '\[exit code 1\] Error: the change failed'
                $bad = Dsc set NwFilter/Binding @{ portDevice = 'vnet0'; macAddress = 'not-a-mac'; filter = 'with-ipset' }
                ($bad.Errors -join "`n") | Should -Match '\[exit code 2\] Invalid input'
                Get-NwFilterBinding vnet0 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
                Get-NwFilterTestSave $Lab | Should -Be $kernel
            }
            finally { Remove-NwFilter with-ipset -Confirm:$false -ErrorAction SilentlyContinue }
        }

        It 'refuses a binding to a missing filter with the JSON path' {
            $r = Dsc set NwFilter/Binding @{ portDevice = 'vnet1'; macAddress = $Mac; filter = 'nope' }
            $r.ExitCode | Should -Be 2
            ($r.Errors -join "`n") | Should -Match '\$\.bindings\[0\]\.filter'
            Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }

    # Only for the daemon door (defined at discovery, where the door is known).
    if ($Door -eq 'nwfilterd') {
        It 'went through nwfilterd and started no pwsh' -Skip:$NoDaemon {
            $log = Get-Content -Raw -LiteralPath $Daemon.Log
            $log | Should -Match ': StateResource filter set'
            $log | Should -Match ': StateResource binding set'
            Join-Path $Tripwire 'pwsh-started' | Should -Not -Exist
            # The tripwire's positive control: a call that does start pwsh trips it.
            $env:NWFILTER_DAEMON = 'inprocess'
            '{"name":"web"}' | & $Ctl dsc filter get 2>$null
            $LASTEXITCODE | Should -Be 97
            Get-Content -LiteralPath (Join-Path $Tripwire 'pwsh-started') | Should -Match 'nwfilter\.dsc\.ps1 filter get$'
            Remove-Item -LiteralPath (Join-Path $Tripwire 'pwsh-started')
            $env:NWFILTER_DAEMON = 'daemon'
        }
    }
}

Describe 'nwfilterctl gives through nwfilterd what the pwsh entry gives' -Skip:$NoDaemon {
    It 'printed the same for every dsc-lite call above (outputs, _inDesiredState, errors, exit codes)' {
        $Calls.pwsh.Count | Should -BeGreaterOrEqual 15
        $Calls.nwfilterd.Count | Should -Be $Calls.pwsh.Count
        for ($i = 0; $i -lt $Calls.pwsh.Count; $i++) { $Calls.nwfilterd[$i] | Should -BeExactly $Calls.pwsh[$i] }
    }

    It 'prints the same bytes for what the calls above do not cover: a built-in filter, no input, a missing property' {
        foreach ($case in @(@('filter', 'get', '{"name":"clean-traffic"}'), @('filter', 'get', ''), @('filter', 'set', '{"name":"web2"}'))) {
            $p = Ctl pwsh @case
            $d = Ctl nwfilterd @case
            $d.ExitCode | Should -Be $p.ExitCode -Because "$case"
            $d.Stdout | Should -BeExactly $p.Stdout -Because "$case"
            $d.Stderr | Should -BeExactly $p.Stderr -Because "$case"
        }
        (Ctl nwfilterd filter get '{"name":"clean-traffic"}').Stdout | Should -Match '"xml":"<filter name=''clean-traffic'''
        # Invalid JSON: the same exit code and start of the message (the two JSON parsers word the rest differently).
        (Ctl nwfilterd filter get '{bad').Stderr | Should -Match '^\{"error":"The input is not valid JSON: '
        (Ctl nwfilterd filter get '{bad').ExitCode | Should -Be 2
    }
}
