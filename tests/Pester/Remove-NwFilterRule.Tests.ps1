BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    function script:RuleLines([string] $Name) { @((Get-NwFilter $Name).Rules | ForEach-Object { $_.ToString() }) }
}
AfterAll {
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Remove-NwFilterRule' {
    BeforeEach {
        Set-NwFilter -Name web -FilterRef clean-traffic -Rule @(
            New-NwFilterRule accept in tcp -DstPortStart 22
            New-NwFilterRule accept in tcp -DstPortStart 80 -Priority 100
            New-NwFilterRule accept in udp -DstPortStart 53 -Priority 100
            New-NwFilterRule drop inout all
        )
    }

    It 'removes the rule a rule object matches, keeping the rest in order' {
        Remove-NwFilterRule -Filter web -Rule (New-NwFilterRule accept in tcp -DstPortStart 80 -Priority 100) -Confirm:$false
        RuleLines web | Should -Be @(
            'accept in tcp dstportstart=22 priority=500'
            'accept in udp dstportstart=53 priority=100'
            'drop inout all priority=500')
        @((Get-NwFilter web).References).Filter | Should -Be 'clean-traffic'
    }

    It 'matches attributes in any order' {
        Add-NwFilterRule web (New-NwFilterRule accept in tcp -Attribute @{ srcipaddr = '10.0.0.1'; dstportstart = 25 }) -Confirm:$false
        Remove-NwFilterRule web (New-NwFilterRule accept in tcp -Attribute @{ dstportstart = 25; srcipaddr = '10.0.0.1' }) -Confirm:$false
        RuleLines web | Should -HaveCount 4
    }

    It 'removes the rules from the pipeline in one change, such as the filter''s own rules filtered' {
        (Get-NwFilter web).Rules | Where-Object Priority -eq 100 | Remove-NwFilterRule -Filter web -Confirm:$false
        RuleLines web | Should -Be @('accept in tcp dstportstart=22 priority=500', 'drop inout all priority=500')
    }

    It 'removes by -Priority when one rule has it' {
        Remove-NwFilterRule web -Priority 500 -All -Confirm:$false
        RuleLines web | Should -Be @('accept in tcp dstportstart=80 priority=100', 'accept in udp dstportstart=53 priority=100')
    }

    It 'refuses a -Priority that several rules share (AmbiguousRule), listing them, and removes nothing' {
        $before = Get-NwFilter web -AsXml
        Remove-NwFilterRule web -Priority 100 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'AmbiguousRule,NwFilter.Commands.RemoveNwFilterRuleCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $errs[0].TargetObject | Should -Be 100
        "$($errs[0])" | Should -Be ("Filter 'web' has 2 rules of priority 100: 'accept in tcp dstportstart=80 priority=100', " +
            "'accept in udp dstportstart=53 priority=100'. Give the rule itself with -Rule, or add -All to remove every one of them.")
        Get-NwFilter web -AsXml | Should -Be $before
    }

    It 'says RuleNotFound for a rule the filter does not have and still removes the others of the call' {
        $missing = New-NwFilterRule accept in tcp -DstPortStart 8080
        Remove-NwFilterRule web -Rule $missing, (New-NwFilterRule drop inout all) -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'RuleNotFound,NwFilter.Commands.RemoveNwFilterRuleCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be $missing
        "$($errs[0])" | Should -Be "Filter 'web' has no rule matching 'accept in tcp dstportstart=8080 priority=500'."
        RuleLines web | Should -Not -Contain 'drop inout all priority=500'
        RuleLines web | Should -HaveCount 3
    }

    It 'says RuleNotFound for a priority no rule has' {
        Remove-NwFilterRule web -Priority 7 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'RuleNotFound,NwFilter.Commands.RemoveNwFilterRuleCommand'
        "$($errs[0])" | Should -Be "Filter 'web' has no rule of priority 7."
    }

    It 'says FilterNotFound for a filter that does not exist' {
        Remove-NwFilterRule nosuch -Priority 1 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.RemoveNwFilterRuleCommand'
        "$($errs[0])" | Should -Be "No filter named 'nosuch'."
    }

    It 'lists each rule with -WhatIf and changes nothing' {
        $before = Get-NwFilter web -AsXml
        $out = Invoke-NwFilterInChild "Remove-NwFilterRule web -Priority 100 -All -WhatIf"
        $out | Should -Match "What if: Performing the operation ""Remove rule 'accept in tcp dstportstart=80 priority=100'"""
        $out | Should -Match "What if: Performing the operation ""Remove rule 'accept in udp dstportstart=53 priority=100'"""
        Get-NwFilter web -AsXml | Should -Be $before
    }
}
