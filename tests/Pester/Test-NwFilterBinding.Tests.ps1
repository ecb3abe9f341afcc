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

Describe 'Test-NwFilterBinding' {
    It 'says InSync for rules as applied' -Skip:$NoKernel {
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Confirm:$false
        $drift = Test-NwFilterBinding
        $drift.PortDevice | Should -Be 'vnet0'
        $drift.Status | Should -Be 'InSync'
        $drift | Format-Table | Out-String | Should -Match 'vnet0\s+clean-traffic\s+InSync'
    }

    It 'lists the missing and unexpected rules of a drifted binding' -Skip:$NoKernel {
        & ip netns exec $Lab ebtables -t nat -D I-vnet0-mac -j DROP
        & ip netns exec $Lab ebtables -t nat -A I-vnet0-mac -j ACCEPT
        $drift = Test-NwFilterBinding vnet0
        $drift.Status | Should -Be 'Drifted'
        $drift.MissingRules | Should -Be @('ebtables: -A I-vnet0-mac -j DROP')
        $drift.UnexpectedRules | Should -Be @('ebtables: -A I-vnet0-mac -j ACCEPT')
    }

    It 'says Missing after a flush and Orphaned for chains without a binding' -Skip:$NoKernel {
        & ip netns exec $Lab nft flush ruleset
        & ip netns exec $Lab ebtables -t nat -N libvirt-O-vnet5
        $drift = Test-NwFilterBinding
        ($drift | Where-Object PortDevice -eq vnet0).Status | Should -Be 'Missing'
        ($drift | Where-Object PortDevice -eq vnet5).Status | Should -Be 'Orphaned'
    }

    It 'warns when the bridge netfilter hooks are off' -Skip:$NoKernel {
        Invoke-NwFilterBinding -Backend EbIpTables vnet1 52:54:00:00:00:11 allow-ipv4 -Confirm:$false
        & ip netns exec $Lab sysctl -q -w net.bridge.bridge-nf-call-iptables=0
        try {
            $tcp = ConvertFrom-NwFilterXml -Xml "<filter name='ssh-only'><rule action='accept' direction='in'><tcp dstportstart='22'/></rule></filter>"
            $tcp | Set-NwFilter
            Invoke-NwFilterBinding -Backend EbIpTables vnet1 52:54:00:00:00:11 ssh-only -Confirm:$false -WarningVariable w -WarningAction SilentlyContinue
            "$w" | Should -BeLike '*net.bridge.bridge-nf-call-iptables is 0*'
            (Test-NwFilterBinding vnet1 -WarningAction SilentlyContinue).Warnings.Code | Should -Be 'BridgeNetfilterOff'
        }
        finally { & ip netns exec $Lab sysctl -q -w net.bridge.bridge-nf-call-iptables=1 }
    }

    It 'writes BindingNotFound for a port device without a binding' {
        Test-NwFilterBinding vnet7 -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'BindingNotFound,NwFilter.Commands.TestNwFilterBindingCommand'
    }
}
