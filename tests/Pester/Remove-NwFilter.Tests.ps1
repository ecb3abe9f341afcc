BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Remove-NwFilter' {
    BeforeEach {
        Set-NwFilter -Name base
        Set-NwFilter -Name user1 -FilterRef base
        Set-NwFilter -Name user2 -FilterRef base
    }

    It 'removes a filter and its file' {
        Remove-NwFilter -Name user1
        Get-NwFilter user1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Test-Path (Join-Path $TestEnv.ConfigDir 'user1.xml') | Should -BeFalse
    }

    It 'warns once for each filter still referencing the removed one' {
        Remove-NwFilter -Name base -WarningVariable w -WarningAction SilentlyContinue
        $w.Count | Should -Be 2
        "$($w[0])" | Should -BeLike "*'user1'*'base'*"
        "$($w[1])" | Should -BeLike "*'user2'*'base'*"
    }

    It 'takes filters from the pipeline, by name and as objects' {
        Get-NwFilter user1 | Remove-NwFilter
        'user2' | Remove-NwFilter
        Get-NwFilter 'user*' | Should -BeNullOrEmpty
    }

    It 'removes with wildcards, skipping built-in filters' {
        Remove-NwFilter -Name '*' -WarningAction SilentlyContinue
        @(Get-NwFilter | Where-Object Origin -ne BuiltIn).Count | Should -Be 0
        @(Get-NwFilter).Count | Should -Be 30   # libvirt's 24 built-ins and our 6 (nwfilter-*)
    }

    It 'writes FilterNotFound for an unknown name and goes on with the others' {
        Remove-NwFilter -Name nope, user1 -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.RemoveNwFilterCommand'
        $errs[0].TargetObject | Should -Be 'nope'
        Get-NwFilter user1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'refuses to remove a built-in filter' {
        { Remove-NwFilter -Name clean-traffic -ErrorAction Stop } | Should -Throw -ErrorId 'BuiltInFilterNotRemovable,NwFilter.Commands.RemoveNwFilterCommand'
    }

    It 'removing a redefinition reveals the built-in filter again' {
        $builtIn = Get-NwFilter allow-arp
        Set-NwFilter -Name allow-arp -Rule (New-NwFilterRule drop inout)
        Remove-NwFilter -Name allow-arp
        $again = Get-NwFilter allow-arp
        $again.Origin | Should -Be 'BuiltIn'
        (ConvertTo-NwFilterXml $again) | Should -Be (ConvertTo-NwFilterXml $builtIn)
    }

    It 'does nothing with -WhatIf' {
        Remove-NwFilter -Name user1 -WhatIf
        Get-NwFilter user1 | Should -Not -BeNullOrEmpty
    }
}
