# Get-NwFilterStatistic and Reset-NwFilterStatistic as shipped (the counting itself, with real packets on both backends,
# is proven by tests/NwFilter.Core.Tests/Apply/RuleStatisticsKernelTests.cs).
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
    $script:PreviousCounters = $env:NWFILTER_COUNTERS
    $env:NWFILTER_COUNTERS = $null
}
AfterAll {
    $env:NWFILTER_COUNTERS = $script:PreviousCounters
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Get-NwFilterStatistic' {
    AfterEach {
        Remove-NwFilterBinding * -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'says a port without a binding has none' -Skip:$NoKernel {
        Get-NwFilterStatistic vnet9 -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'BindingNotFound,NwFilter.Commands.GetNwFilterStatisticCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'shows each rule of a counting nftables binding from the pipeline, and resets them' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Counters -Confirm:$false
        Get-NwFilterBinding vnet0 | ConvertTo-NwFilterXml | Should -Match "<nwfilter:counters xmlns:nwfilter='https://nwfilter.dev/xmlns/binding/1' enabled='yes'/>"
        $rules = @(Get-NwFilterBinding vnet0 | Get-NwFilterStatistic)
        $rules.Count | Should -BeGreaterThan 10
        $rules[0] | Should -BeOfType ([NwFilter.Core.Apply.RuleStatistic])
        $rules.PortDevice | Sort-Object -Unique | Should -Be 'vnet0'
        $drop = @($rules | Where-Object { $_.Filter -eq 'no-ip-spoofing' -and $_.Action -eq 'Drop' })
        $drop.Count | Should -Be 1
        $drop[0].Priority | Should -Be 1000
        $drop[0].Direction | Should -Be 'Out'
        $drop[0].Chain | Should -Be 'I-ipv4-ip'
        $drop[0].Packets | Should -Be 0
        $drop[0].Bytes | Should -Be 0
        $drop[0].Rule | Should -BeLike "<rule action='drop'*"
        ($rules | Format-Table | Out-String -Width 160) | Should -Match 'no-ip-spoofing\s+1000\s+Drop\s+Out\s+I-ipv4-ip\s+0\s+0'
        (Test-NwFilterBinding vnet0).Status | Should -Be 'InSync'

        Reset-NwFilterStatistic vnet0 -WhatIf | Should -BeNullOrEmpty
        $held = @(Reset-NwFilterStatistic vnet0 -PassThru -Confirm:$false)
        $held.Count | Should -Be $rules.Count
        @(Get-NwFilterStatistic vnet0 | Where-Object Packets -ne 0).Count | Should -Be 0
    }

    It 'says an nftables binding without counters has none, and counts EbIpTables bindings anyway' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
        Invoke-NwFilterBinding vnet1 52:54:00:00:00:11 clean-traffic -Parameter @{ IP = '10.1.0.11' } -Backend EbIpTables -Confirm:$false
        $rules = @(Get-NwFilterStatistic -ErrorVariable errs -ErrorAction SilentlyContinue)
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'StatisticsOff,NwFilter.Commands.GetNwFilterStatisticCommand'
        "$($errs[0])" | Should -BeLike 'Port vnet0 * has no per-rule counters*-Counters*'
        $rules.PortDevice | Sort-Object -Unique | Should -Be 'vnet1'
        ($rules | Where-Object { $_.Filter -eq 'no-ip-spoofing' -and $_.Action -eq 'Drop' }).Chain | Should -Be 'I-vnet1-ipv4-ip'
        # The EbIpTables rules are libvirt's: no counter was added to them.
        Get-NwFilterTestSave $Lab | Should -Not -Match 'counter'
    }

    It 'follows the counters setting of nwfilter.conf for a binding that does not say' -Skip:$NoKernel {
        $conf = Join-Path $TestEnv.ConfigDir 'nwfilter.conf'
        Set-Content $conf "counters = on`n"
        try {
            Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
            @(Get-NwFilterStatistic vnet0).Count | Should -BeGreaterThan 10
            ((& ip netns exec $Lab nft list table bridge nwfilter) -join "`n") | Should -Match 'counter packets 0 bytes 0'
        }
        finally {
            Remove-Item $conf
        }
    }
}
