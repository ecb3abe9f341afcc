# The Ansible modules (contrib/ansible: nwfilter_filter, nwfilter_binding) as ansible-core runs them on a Linux
# target: `ansible localhost -c local -m ...`, through the module's JSON entry point (nwfilter.dsc.ps1). Check mode
# changes nothing, --diff shows what would change, a second run is unchanged, a refused input fails and changes nothing.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoAnsible = -not (Test-NwFilterResource ansible ([bool] (Get-Command ansible -CommandType Application -ErrorAction SilentlyContinue)) 'ansible (ansible-core) is not installed')
    $script:NoKernel = $NoAnsible -or -not (Test-NwFilterKernelTests)
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
    $script:Web = "<filter name='web' chain='root'><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>"
    $script:Web443 = "<filter name='web' chain='root'><rule action='accept' direction='in' priority='500'><tcp dstportstart='443'/></rule></filter>"

    function script:Invoke-Ansible([string] $Module, [hashtable] $Arguments, [switch] $Check) {
        # One ad-hoc run with --diff, printed by ansible's default ad-hoc output: the diff as text, then
        # "localhost | CHANGED => {json}" (SUCCESS, FAILED!). Status and result come from that line, the diff from before it.
        $all = @{ module_path = $ModulePath; pwsh = (Join-Path $Shim 'pwsh'); config_dir = $TestEnv.ConfigDir; state_dir = $TestEnv.StateDir }
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
        [pscustomobject]@{ ExitCode = $exit; Status = $Matches.status; Result = ($Matches.json | ConvertFrom-Json -AsHashtable); Diff = $Matches.diff }
    }
    function script:Get-StoreHash { (Get-ChildItem -LiteralPath $TestEnv.ConfigDir -File | Get-FileHash | ForEach-Object { "$($_.Path)=$($_.Hash)" }) -join ';' }
}
AfterAll {
    Remove-Item Env:ANSIBLE_MODULE_UTILS, Env:ANSIBLE_NOCOLOR -ErrorAction SilentlyContinue
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Ansible module nwfilter_filter' -Skip:$NoAnsible {
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

Describe 'Ansible module nwfilter_binding' -Skip:$NoKernel {
    BeforeAll { Set-NwFilter -Xml "<filter name='web' chain='root'><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>" -Confirm:$false }

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

    It 'fails on a binding to a missing filter and binds nothing' {
        $r = Invoke-Ansible nwfilter_binding @{ port_device = 'vnet0'; mac_address = '52:54:00:7b:35:93'; filter = 'nope' }
        $r.Status | Should -Be 'FAILED'
        $r.Result.msg | Should -Match '\$\.bindings\[0\]\.filter'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
