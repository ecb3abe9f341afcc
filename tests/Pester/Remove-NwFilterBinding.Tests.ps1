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

Describe 'Remove-NwFilterBinding' {
    BeforeEach {
        if (-not $NoKernel) {
            Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Confirm:$false
            $tcp = ConvertFrom-NwFilterXml -Xml "<filter name='ssh'><filterref filter='clean-traffic'/><rule action='accept' direction='in'><tcp dstportstart='22'/></rule></filter>"
            $tcp | Set-NwFilter
            Invoke-NwFilterBinding -Backend EbIpTables vnet1 52:54:00:00:00:11 ssh -Parameter @{ IP = '10.1.0.11' } -Confirm:$false
        }
    }

    It 'shows the one nft transaction with -WhatIf and removes nothing' -Skip:$NoKernel {
        $out = Invoke-NwFilterInChild 'Remove-NwFilterBinding vnet1 -WhatIf'
        $out | Should -Match "nft -f - <<'EOF'"
        $out | Should -Match 'delete chain ip filter FI-vnet1'
        $out | Should -Match 'delete rule ip filter libvirt-in-post handle <iptables: -A libvirt-in-post -m physdev --physdev-in vnet1 -j ACCEPT>'
        (Get-NwFilterBinding).Count | Should -Be 2
    }

    It 'removes one binding and keeps the other''s rules' -Skip:$NoKernel {
        Remove-NwFilterBinding vnet1 -Confirm:$false
        (Get-NwFilterBinding).PortDevice | Should -Be 'vnet0'
        $save = Get-NwFilterTestSave $Lab
        $save | Should -Not -Match 'vnet1'
        $save | Should -Match 'libvirt-I-vnet0'
    }

    It 'leaves no NwFilter chain when the last binding goes' -Skip:$NoKernel {
        Get-NwFilterBinding | Remove-NwFilterBinding -Confirm:$false
        Get-NwFilterBinding | Should -BeNullOrEmpty
        Get-NwFilterTestSave $Lab | Should -Not -Match 'libvirt|vnet'
    }

    It 'writes BindingNotFound for a port device without a binding and removes the others' -Skip:$NoKernel {
        Remove-NwFilterBinding vnet7, vnet0 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'BindingNotFound,NwFilter.Commands.RemoveNwFilterBindingCommand'
        $errs[0].TargetObject | Should -Be 'vnet7'
        (Get-NwFilterBinding).PortDevice | Should -Be 'vnet1'
    }
}
