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
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Bindings with the nftables backend' {
    It 'prints the nft script with -WhatIf and changes nothing' {
        $out = Invoke-NwFilterInChild "Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.0.0.5' } -Backend Nftables -WhatIf"
        $out | Should -Match "nft -f - <<'EOF'"
        $out | Should -Match 'add table bridge nwfilter'
        $out | Should -Match 'create chain bridge nwfilter vnet0/1/1/I'
        $out | Should -Not -Match 'ebtables-restore'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'refuses a binding that would learn its IP address' {
        Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Backend Nftables -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'IpLearningNeedsEbIpTables,NwFilter.Commands.InvokeNwFilterBindingCommand'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'applies, shows the Backend, tests, switches backend and removes' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
        $binding = Get-NwFilterBinding vnet0
        $binding.Backend | Should -Be 'Nftables'
        $binding | Format-Table | Out-String -Width 160 | Should -Match 'vnet0\s+52:54:00:00:00:10\s+clean-traffic\s+vnet0\s+Nftables'
        $binding | ConvertTo-NwFilterXml | Should -Match "<backend name='nftables'/>"
        $ruleset = (& ip netns exec $Lab nft list ruleset) -join "`n"
        $ruleset | Should -Match 'table bridge nwfilter'
        $ruleset | Should -Match 'chain vnet0/\d+/\d+/I '
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet0'
        (Test-NwFilterBinding vnet0).Status | Should -Be 'InSync'

        # Re-applied from the pipeline, the binding keeps its backend.
        Get-NwFilterBinding vnet0 | Invoke-NwFilterBinding -Confirm:$false
        (Get-NwFilterBinding vnet0).Backend | Should -Be 'Nftables'

        # To EbIpTables and back: only the current backend's rules remain.
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Confirm:$false
        ((& ip netns exec $Lab nft list ruleset) -join "`n") | Should -Not -Match 'nwfilter'
        Get-NwFilterTestSave $Lab | Should -Match 'libvirt-I-vnet0'
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet0'

        # Restore re-applies it after a flush.
        & ip netns exec $Lab nft delete table bridge nwfilter
        (Test-NwFilterBinding vnet0).Status | Should -Be 'Missing'
        Restore-NwFilterBinding -Confirm:$false
        (Test-NwFilterBinding vnet0).Status | Should -Be 'InSync'

        Remove-NwFilterBinding vnet0 -Confirm:$false
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        ((& ip netns exec $Lab nft list ruleset) -join "`n") | Should -Not -Match 'nwfilter'
    }
}
