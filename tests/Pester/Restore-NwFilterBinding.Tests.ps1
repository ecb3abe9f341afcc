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
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Restore-NwFilterBinding' {
    It 're-applies every binding after the firewall was flushed' -Skip:$NoKernel {
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Confirm:$false
        Invoke-NwFilterBinding -Backend EbIpTables vnet1 52:54:00:00:00:11 clean-traffic -Parameter @{ IP = '10.1.0.11' } -Confirm:$false
        $expected = Get-NwFilterTestSave $Lab
        & ip netns exec $Lab nft flush ruleset
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet'
        Restore-NwFilterBinding -Confirm:$false -PassThru | Should -HaveCount 2
        Get-NwFilterTestSave $Lab | Should -Be $expected
    }

    It 'restores the bindings of the port devices given, and removes orphaned chains when restoring all' -Skip:$NoKernel {
        & ip netns exec $Lab ebtables -t nat -F I-vnet1-mac
        & ip netns exec $Lab ebtables -t nat -N libvirt-I-vnet9
        Restore-NwFilterBinding vnet1 -Confirm:$false
        Get-NwFilterTestSave $Lab | Should -Match '-A I-vnet1-mac -s \S+ -j RETURN'
        Get-NwFilterTestSave $Lab | Should -Match 'libvirt-I-vnet9'
        Restore-NwFilterBinding -Confirm:$false -WarningVariable w -WarningAction SilentlyContinue
        "$w" | Should -BeLike '*vnet9*'
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet9'
    }

    It 'writes BindingNotFound for a port device without a binding' {
        { Restore-NwFilterBinding vnet7 -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'BindingNotFound,NwFilter.Commands.RestoreNwFilterBindingCommand'
    }
}
