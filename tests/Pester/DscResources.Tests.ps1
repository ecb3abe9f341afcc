# The DSC v3 command resources (NwFilter/Filter, NwFilter/Binding) as the dsc CLI drives them: the CLI is not
# obtainable here, so /work/shared/tools/dsc-lite invokes the manifests in out/NwFilter as dsc's command_resource.rs does.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:DscLite = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../../shared/tools/dsc-lite'))
    $script:NoTools = -not (Test-NwFilterResource shared-tools (Test-Path -LiteralPath $DscLite) "dsc-lite is not at $DscLite")
    $script:NoKernel = $NoTools -or -not (Test-NwFilterKernelTests)
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
    # The manifests run "pwsh": a shim on PATH that starts this very PowerShell.
    $bin = New-NwFilterPwshShim (Join-Path $TestDrive 'bin')
    $script:PathBefore = $env:PATH
    $env:PATH = "$bin$([IO.Path]::PathSeparator)$env:PATH"
    $env:DSC_RESOURCE_PATH = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter'))
    function script:Dsc([string] $Operation, [string] $Type, $Instance, [switch] $WhatIf) {
        $dscArgs = @('resource', $Operation, '-r', $Type)
        if ($null -ne $Instance) { $dscArgs += @('-i', ($Instance | ConvertTo-Json -Compress -Depth 6)) }
        if ($WhatIf) { $dscArgs += '-w' }
        $out = & python3 $DscLite @dscArgs 2>&1
        $exit = $LASTEXITCODE
        $text = @($out | Where-Object { $_ -is [string] })
        [pscustomobject]@{
            ExitCode = $exit
            Result   = if ($exit -eq 0 -and $text.Count -gt 0) { $text[-1] | ConvertFrom-Json -AsHashtable } else { $null }
            Errors   = @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object ToString)
        }
    }
}
AfterAll {
    $env:PATH = $script:PathBefore
    Remove-Item Env:DSC_RESOURCE_PATH -ErrorAction SilentlyContinue
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'DSC resource NwFilter/Filter' -Skip:$NoTools {
    It 'ships its manifest and dispatcher in the module folder' {
        Join-Path $env:DSC_RESOURCE_PATH 'filter.dsc.resource.json' | Should -Exist
        Join-Path $env:DSC_RESOURCE_PATH 'nwfilter.dsc.ps1' | Should -Exist
        $m = Get-Content -Raw (Join-Path $env:DSC_RESOURCE_PATH 'filter.dsc.resource.json') | ConvertFrom-Json
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

Describe 'DSC resource NwFilter/Binding' -Skip:$NoKernel {
    BeforeAll { Set-NwFilter -Xml $Web -Confirm:$false }

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

    It 'refuses a binding to a missing filter with the JSON path' {
        $r = Dsc set NwFilter/Binding @{ portDevice = 'vnet1'; macAddress = $Mac; filter = 'nope' }
        $r.ExitCode | Should -Be 2
        ($r.Errors -join "`n") | Should -Match '\$\.bindings\[0\]\.filter'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
