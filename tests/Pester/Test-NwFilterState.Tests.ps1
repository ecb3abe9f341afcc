BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoKernel = -not (Test-NwFilterKernelTests)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterTestNamespace -Ports 2
    $script:Mac = '52:54:00:7b:35:93'
    $script:Web = "<filter name='web' chain='root'><filterref filter='base'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>"
    $script:Base = "<filter name='base' chain='root'><filterref filter='clean-traffic'/></filter>"
    Set-NwFilter -Xml $Base, $Web -Confirm:$false
    function script:StoreHash {
        (Get-ChildItem -LiteralPath $TestEnv.ConfigDir, $TestEnv.StateDir -Recurse -File | Sort-Object FullName |
            ForEach-Object { "$($_.FullName) $((Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash)" }) -join "`n"
    }
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Test-NwFilterState' {
    It 'is in the desired state against its own Get-NwFilterState' {
        $result = Test-NwFilterState -InputObject (Get-NwFilterState)
        $result.InDesiredState | Should -BeTrue
        $result.Differences | Should -BeNullOrEmpty
        Test-NwFilterState -InputObject (Get-NwFilterState) -Quiet | Should -BeTrue
    }

    It 'says exactly which filter and binding differ, from a hashtable' {
        $doc = @{
            filters  = @(@{ name = 'web'; xml = $Web -replace "'22'", "'80'" }, @{ name = 'base'; xml = $Base }, @{ name = 'new'; xml = "<filter name='new'/>" })
            bindings = @(@{ portDevice = 'vnet0'; macAddress = $Mac; filter = 'web'; parameters = @{ IP = '10.0.0.5' } })
        }
        $result = Test-NwFilterState -InputObject $doc
        $result.InDesiredState | Should -BeFalse
        @($result.Differences | ForEach-Object ToString) | Should -Be @("Filter 'new': Missing", "Filter 'web': Different", "Binding 'vnet0': Missing")
    }

    It 'names the JSON path of each problem of a bad document and changes nothing' {
        $file = Join-Path $TestDrive 'bad.json'
        Set-Content -LiteralPath $file -Value '{ "filters": [ { "name": "web", "xm1": "x" } ], "bindings": [ { "portDevice": "vnet0", "macAddress": "52:54:00:7b:35:93", "filter": "nope" } ] }'
        $before = StoreHash
        $result = Test-NwFilterState -Path $file -ErrorVariable errs -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        @($errs | ForEach-Object FullyQualifiedErrorId) | Should -Be @(
            'StateUnknownKey,NwFilter.Commands.TestNwFilterStateCommand'
            'StateMissingKey,NwFilter.Commands.TestNwFilterStateCommand'
            'StateFilterNotFound,NwFilter.Commands.TestNwFilterStateCommand')
        @($errs | ForEach-Object TargetObject) | Should -Be @('$.filters[0].xm1', '$.filters[0]', '$.bindings[0].filter')
        "$($errs[2])" | Should -BeLike "*'nope', which neither the document nor the host defines*"
        StoreHash | Should -Be $before
    }

    It 'refuses a filter whose XML does not parse, naming its path' {
        Test-NwFilterState -InputObject '{ "filters": [ { "name": "web", "xml": "<filter name=''web''><rule/></filter>" } ] }' -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'StateFilterInvalid,NwFilter.Commands.TestNwFilterStateCommand'
        $errs[0].TargetObject | Should -Be '$.filters[0].xml'
    }

    It 'never changes the store or the kernel ruleset on a host with drift' -Skip:$NoKernel {
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac web -Parameter @{ IP = '10.0.0.5' } -Confirm:$false
        $doc = @{
            filters  = @(@{ name = 'web'; xml = $Web -replace "'22'", "'443'" })
            bindings = @(@{ portDevice = 'vnet0'; macAddress = $Mac; filter = 'web'; parameters = @{ IP = '10.0.0.6' } }, @{ portDevice = 'vnet1'; macAddress = $Mac; filter = 'base'; parameters = @{ IP = '10.0.0.7' } })
            settings = @{ pruneBindings = $true }
        }
        $store = StoreHash
        $kernel = Get-NwFilterTestSave $Lab
        $result = Test-NwFilterState -InputObject $doc
        @($result.Differences | ForEach-Object ToString) | Should -Be @("Filter 'web': Different", "Binding 'vnet0': Different (Parameters)", "Binding 'vnet1': Missing")
        StoreHash | Should -Be $store
        Get-NwFilterTestSave $Lab | Should -Be $kernel
        Remove-NwFilterBinding vnet0 -Confirm:$false
    }

    Context 'migration closure (-ReferenceObject)' {
        BeforeAll {
            # This host's binding needs web -> base -> clean-traffic -> its built-ins; stored without a firewall (the check reads only the store).
            # Where the cmdlets look: the test namespace's folder, or the host's own when there is none (not root).
            $bindings = if ($env:NWFILTER_NETNS) { Join-Path $TestEnv.StateDir "netns/$env:NWFILTER_NETNS/bindings" } else { Join-Path $TestEnv.StateDir 'bindings' }
            $null = New-Item -ItemType Directory -Force -Path $bindings
            Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Set-Content -LiteralPath (Join-Path $bindings 'vnet0.xml') -Value "<filterbinding><owner><name>vm1</name><uuid>1a2b3c4d-0000-4000-8000-000000000001</uuid></owner><portdev name='vnet0'/><mac address='$Mac'/><filterref filter='web'><parameter name='IP' value='10.0.0.5'/></filterref></filterbinding>"
            function script:Remote($State) {
                # What Invoke-Command brings back: a deserialized object, properties only.
                [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($State, 8))
            }
        }
        AfterAll { Get-ChildItem -Path (Join-Path $TestEnv.StateDir '*') -Recurse -Filter vnet0.xml | Remove-Item }

        It 'is ready when the target has every filter with the same content' {
            $result = Test-NwFilterState -ReferenceObject (Remote (Get-NwFilterState)) -PortDevice vnet0
            $result.InDesiredState | Should -BeTrue
            $result.Compared | Should -Contain 'base'
            $result.Compared | Should -Contain 'no-mac-spoofing'
        }

        It 'names what the target lacks or has with other content, and which port needs it' {
            $target = Get-NwFilterState
            $doc = Export-NwFilterState | ConvertFrom-Json
            $doc.filters = @($doc.filters | Where-Object name -NE 'base' | ForEach-Object {
                    if ($_.name -eq 'web') { $_.xml = $_.xml -replace "'22'", "'80'"; $_.hash = $null }
                    $_ })
            $result = Test-NwFilterState -ReferenceObject (Remote $doc)
            $result.InDesiredState | Should -BeFalse
            @($result.Differences | ForEach-Object ToString) | Should -Be @("Filter 'base': Missing", "Filter 'web': Different")
            $result.Differences[0].NeededBy | Should -Be @('vnet0')
            $target | Should -Not -BeNullOrEmpty
        }

        It 'says a port without a binding here is missing' {
            (Test-NwFilterState -ReferenceObject (Get-NwFilterState) -PortDevice vnet7).Differences[0].ToString() | Should -Be "Binding 'vnet7': Missing"
        }
    }
}
