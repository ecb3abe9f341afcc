BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Mac = '52:54:00:7b:35:93'
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Resolve-NwFilter' {
    It 'gives clean-traffic''s rule instances in libvirt''s order' {
        $instances = Resolve-NwFilter clean-traffic -MacAddress $Mac -Parameter @{ IP = '10.0.0.5' }
        $instances.Count | Should -Be 17
        $instances[0].ChainSuffix | Should -Be 'root'
        ($instances | Where-Object ChainSuffix -eq 'mac')[0].ChainPriority | Should -Be -800
        $ipRule = $instances | Where-Object { $_.FilterName -eq 'no-ip-spoofing' -and $_.Bindings.Length -gt 0 }
        "$($ipRule.Bindings)" | Should -Be '$IP=10.0.0.5'
    }

    It 'makes one instance per value of a list variable' {
        $instances = Resolve-NwFilter no-ip-spoofing -Parameter @{ IP = '10.0.0.5', '10.0.0.6' }
        $multiplied = @($instances | Where-Object CombinationCount -eq 2)
        $multiplied.Count | Should -Be 2
        $multiplied.Combination | Should -Be @(0, 1)
    }

    It 'shows the instances in a table' {
        $text = Resolve-NwFilter clean-traffic -MacAddress $Mac -Parameter @{ IP = '10.0.0.5' } | Format-Table | Out-String -Width 160
        $text | Should -Match 'no-mac-spoofing\s+mac\s+-800'
    }

    It 'reports every unbound variable at once' {
        $f = ConvertFrom-NwFilterXml -Xml "<filter name='two'><rule action='accept' direction='out'><ip srcipaddr='`$A' dstipaddr='`$B'/></rule></filter>"
        $f | Resolve-NwFilter -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs.Count | Should -Be 1
        $errs[0].Exception.Message | Should -BeLike '*A*B*'
        $errs[0].FullyQualifiedErrorId | Should -Be 'UnresolvedVariable,NwFilter.Commands.ResolveNwFilterCommand'
        $errs[0].TargetObject.Name | Should -Be 'two'
    }

    It 'writes FilterNotFound for an unknown filter' {
        { Resolve-NwFilter nope -ErrorAction Stop } | Should -Throw -ErrorId 'FilterNotFound,NwFilter.Commands.ResolveNwFilterCommand'
    }
}
