BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoKernel = -not (Test-NwFilterKernelTests)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterTestNamespace -Ports 3
    $script:Mac = '52:54:00:7b:35:93'
    $script:Web = "<filter name='web' chain='root'><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>"
    function script:StoreHash {
        (Get-ChildItem -LiteralPath $TestEnv.ConfigDir, $TestEnv.StateDir -Recurse -File | Sort-Object FullName |
            ForEach-Object { "$($_.FullName) $((Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash)" }) -join "`n"
    }
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Set-NwFilterState' {
    It 'defines the filters of a document with UUIDs derived from their names, and a second Set changes nothing' {
        $doc = @{ filters = @(@{ name = 'web'; xml = $Web }, @{ name = 'db'; xml = "<filter name='db' chain='root'><filterref filter='web'/></filter>" }) }
        $result = Set-NwFilterState -InputObject $doc -Confirm:$false
        $result.Changed | Should -BeTrue
        $result.DefinedFilters | Should -Be @('web', 'db')   # referenced first: no "does not exist yet" warning
        $uuid = (Get-NwFilter web).Uuid
        $again = Set-NwFilterState -InputObject $doc -Confirm:$false
        $again.Changed | Should -BeFalse
        $again.StateHash | Should -Be $result.StateHash
        # Another host given the same document gets the same UUID: remove and set again.
        Remove-NwFilter db, web -Confirm:$false
        $null = Set-NwFilterState -InputObject $doc -Confirm:$false
        (Get-NwFilter web).Uuid | Should -Be $uuid
    }

    It 'changes only what differs' {
        $before = Get-NwFilter db
        $dbFile = (Get-FileHash -LiteralPath (Join-Path $TestEnv.ConfigDir 'db.xml')).Hash
        $result = Set-NwFilterState -InputObject @{ filters = @(@{ name = 'web'; xml = $Web -replace "'22'", "'80'" }, @{ name = 'db'; xml = "<filter name='db' chain='root'><filterref filter='web'/></filter>" }) } -Confirm:$false
        $result.DefinedFilters | Should -Be @('web')
        (Get-FileHash -LiteralPath (Join-Path $TestEnv.ConfigDir 'db.xml')).Hash | Should -Be $dbFile
        (Get-NwFilter db).Uuid | Should -Be $before.Uuid
        (Get-NwFilter web | ConvertTo-NwFilterXml) | Should -Match "dstportstart='80'"
    }

    It 'changes nothing with -WhatIf' {
        $before = StoreHash
        $file = Join-Path $TestDrive 'whatif.json'
        @{ filters = @(@{ name = 'web'; xml = $Web }) } | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $file
        $out = Invoke-NwFilterInChild "Set-NwFilterState -Path '$file' -WhatIf"
        $out | Should -Match "What if: Performing the operation `"Update filter`" on target `"filter 'web'"
        StoreHash | Should -Be $before
    }

    It 'refuses a bad document whole and changes nothing' {
        $before = StoreHash
        $doc = '{ "filters": [ { "name": "web", "xml": "<filter name=''web''/>" }, { "name": "bad", "xml": "<filter name=''bad''><rule action=''nope'' direction=''in''/></filter>" } ] }'
        $result = Set-NwFilterState -InputObject $doc -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'StateFilterInvalid,NwFilter.Commands.SetNwFilterStateCommand'
        $errs[0].TargetObject | Should -Be '$.filters[1].xml'
        StoreHash | Should -Be $before
    }

    It 'refuses to set a differing filter given only by hash' {
        $before = StoreHash
        Set-NwFilterState -InputObject @{ filters = @(@{ name = 'web'; hash = 'a' * 64 }) } -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'StateFilterContentUnknown,NwFilter.Commands.SetNwFilterStateCommand'
        StoreHash | Should -Be $before
    }

    It 'applies the bindings that differ in one batch, prunes unlisted ones, and a second Set reports no change' -Skip:$NoKernel {
        Invoke-NwFilterBinding -Backend EbIpTables vnet2 $Mac clean-traffic -Parameter @{ IP = '10.0.0.9' } -Confirm:$false
        $doc = @{
            bindings = @(
                @{ portDevice = 'vnet0'; macAddress = $Mac; filter = 'web'; parameters = @{ IP = '10.0.0.5' } }
                @{ portDevice = 'vnet1'; macAddress = '52:54:00:00:00:11'; filter = 'clean-traffic'; parameters = @{ IP = '10.0.0.6', '10.0.0.7' }; backend = 'Nftables' })
            settings = @{ pruneBindings = $true }
        }
        $result = Set-NwFilterState -InputObject $doc -Confirm:$false
        $result.AppliedBindings | Should -Be @('vnet0', 'vnet1')
        $result.RemovedBindings | Should -Be @('vnet2')
        (Get-NwFilterBinding).PortDevice | Should -Be @('vnet0', 'vnet1')
        # vnet0 names no backend and the document no defaultBackend: the host's default (nftables here), as Invoke-NwFilterBinding.
        (Get-NwFilterBinding vnet0).Backend | Should -Be 'Nftables'
        $save = Get-NwFilterTestSave $Lab
        $save | Should -Not -Match 'vnet[02]'
        $nft = & ip netns exec $Lab nft list table bridge nwfilter | Out-String
        $nft | Should -Match 'chain vnet0/'
        $nft | Should -Match 'chain vnet1/'
        $kernel = Get-NwFilterTestSave $Lab
        $again = Set-NwFilterState -InputObject $doc -Confirm:$false
        $again.Changed | Should -BeFalse
        Get-NwFilterTestSave $Lab | Should -Be $kernel
        (Test-NwFilterState -InputObject $doc).InDesiredState | Should -BeTrue
    }

    It 'reads a document from a file' {
        $file = Join-Path $TestDrive 'state.json'
        Export-NwFilterState -Path $file
        (Set-NwFilterState -Path $file -Confirm:$false).Changed | Should -BeFalse
    }
}
