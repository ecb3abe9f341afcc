# The -WhatIf plan of a binding change: a one-line summary first, and "old rules out" only for a port that had rules.
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

Describe 'The -WhatIf plan' {
    It 'starts with the chains and rules per family, and a first apply takes no old rules out (<Backend>)' -Skip:$NoKernel -ForEach @(
        @{ Backend = 'EbIpTables'; Summary = '^# Summary: bridge: \d+ chains and \d+ rules added\.$' }
        @{ Backend = 'Nftables'; Summary = '^# Summary: bridge: \d+ chains and \d+ rules added, 2 port map entries added\.$' }
    ) {
        $out = Invoke-NwFilterInChild "Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.0.0.5' } -Backend $Backend -WhatIf"
        $lines = @($out -split "`n")
        $plan = [array]::IndexOf($lines, @($lines | Where-Object { $_ -like 'What if: *The plan:' })[0])
        $lines[$plan + 1] | Should -Match $Summary
        $out | Should -Not -Match 'old rules out'
        if ($Backend -eq 'EbIpTables') { $out | Should -Match '# swap: new rules in \(no port had rules to take out\)' }
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'says old rules out, and how many chains go, when the port has rules' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.0.0.5' } -Backend EbIpTables -Confirm:$false
        $out = Invoke-NwFilterInChild "Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.0.0.6' } -Backend EbIpTables -WhatIf"
        $out | Should -Match '# Summary: bridge: \d+ chains and \d+ rules added, \d+ chains with their rules and 2 rules removed\.'
        $out | Should -Match '# swap: old rules of vnet0 out, new rules in'
        # One batch of a port with rules (vnet0) and one without (vnet1): only vnet0 is said to lose rules.
        $batch = Invoke-NwFilterInChild ("@([pscustomobject]@{ PortDevice = 'vnet0'; MacAddress = '$Mac'; Filter = 'clean-traffic'; Parameter = @{ IP = '10.0.0.6' } }, " +
            "[pscustomobject]@{ PortDevice = 'vnet1'; MacAddress = '52:54:00:00:00:77'; Filter = 'clean-traffic'; Parameter = @{ IP = '10.0.0.7' } }) | " +
            'Invoke-NwFilterBinding -Backend EbIpTables -WhatIf')
        $batch | Should -Match '# swap: old rules of vnet0 out, new rules in'
        $batch | Should -Not -Match 'old rules of [^\n]*vnet1'
        $removal = Invoke-NwFilterInChild 'Remove-NwFilterBinding vnet0 -WhatIf'
        $removal | Should -Match '# Summary: bridge: \d+ chains with their rules and \d+ rules? removed\.'
        Remove-NwFilterBinding vnet0 -Confirm:$false
    }
}
