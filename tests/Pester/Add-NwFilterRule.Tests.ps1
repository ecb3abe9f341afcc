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
    function script:RuleLines([string] $Name) { @((Get-NwFilter $Name).Rules | ForEach-Object { $_.ToString() }) }
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Add-NwFilterRule' {
    BeforeEach {
        Set-NwFilter -Name web -FilterRef clean-traffic -Rule @(
            New-NwFilterRule accept in tcp -DstPortStart 22
            New-NwFilterRule drop inout all
        )
    }

    It 'appends a rule and keeps the references, the other rules and the UUID' {
        $uuid = (Get-NwFilter web).Uuid
        Add-NwFilterRule -Filter web -Rule (New-NwFilterRule accept in tcp -DstPortStart 443) -Confirm:$false
        $filter = Get-NwFilter web
        $filter.Uuid | Should -Be $uuid
        @($filter.References).Filter | Should -Be 'clean-traffic'
        RuleLines web | Should -Be @(
            'accept in tcp dstportstart=22 priority=500'
            'drop inout all priority=500'
            'accept in tcp dstportstart=443 priority=500')
    }

    It 'adds the rules of a pipeline in one change and returns the filter with -PassThru' {
        $out = @(
            New-NwFilterRule accept in tcp -DstPortStart 8080
            New-NwFilterRule accept in tcp -DstPortStart 8443
        ) | Add-NwFilterRule -Filter web -PassThru -Confirm:$false
        @($out).Count | Should -Be 1
        $out.Name | Should -Be 'web'
        @($out.Rules).Count | Should -Be 4
    }

    It 'takes the filter name from a FilterDefinition by property name' {
        Get-NwFilter web | Add-NwFilterRule -Rule (New-NwFilterRule accept out icmp) -Confirm:$false
        RuleLines web | Should -Contain 'accept out icmp priority=500'
    }

    It 'lists each rule with -WhatIf and changes nothing' {
        $before = Get-NwFilter web -AsXml
        $out = Invoke-NwFilterInChild "Add-NwFilterRule web (New-NwFilterRule accept in tcp -DstPortStart 443) -WhatIf"
        $out | Should -Match "What if: Performing the operation ""Add rule 'accept in tcp dstportstart=443 priority=500'"" on target ""filter 'web' in "
        Get-NwFilter web -AsXml | Should -Be $before
    }

    It 'warns and does not add a rule the filter already has' {
        $before = Get-NwFilter web -AsXml
        Add-NwFilterRule web (New-NwFilterRule accept in tcp -DstPortStart 22) -Confirm:$false -WarningVariable warned 3>$null
        "$warned" | Should -Be "Filter 'web' already has the rule 'accept in tcp dstportstart=22 priority=500'; it is not added again."
        Get-NwFilter web -AsXml | Should -Be $before
    }

    It 'says FilterNotFound for a filter that does not exist, with the name as target' {
        Add-NwFilterRule nosuch (New-NwFilterRule accept in all) -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.AddNwFilterRuleCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be 'nosuch'
        "$($errs[0])" | Should -Be "No filter named 'nosuch'."
        Get-NwFilter nosuch -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'adds to a built-in filter by defining its own copy, which shadows the built-in one' {
        Add-NwFilterRule allow-arp (New-NwFilterRule drop inout arp -Priority 100) -Confirm:$false
        $filter = Get-NwFilter allow-arp
        $filter.Origin | Should -Be 'Redefined'
        RuleLines allow-arp | Should -Be @('accept inout priority=500', 'drop inout arp priority=100')
        Remove-NwFilter allow-arp
        (Get-NwFilter allow-arp).Origin | Should -Be 'BuiltIn'
    }
}

Describe 'Editing a rule of a filter live bindings use' {
    It 're-applies the bindings through the define request, says so, and the kernel gets the new rules' -Skip:$NoKernel {
        Set-NwFilter -Name web -Rule (New-NwFilterRule accept in tcp -DstPortStart 22)
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 web -Parameter @{ IP = '10.1.0.10' } -Backend EbIpTables -Confirm:$false
        Invoke-NwFilterBinding vnet1 52:54:00:00:00:11 web -Parameter @{ IP = '10.1.0.11' } -Backend EbIpTables -Confirm:$false
        Get-NwFilterTestSave $Lab | Should -Not -Match '--dport 443'
        # -WhatIf says that live rules would change, and where.
        Invoke-NwFilterInChild "Add-NwFilterRule web (New-NwFilterRule accept in tcp -DstPortStart 443) -WhatIf" |
            Should -Match "on target ""filter 'web' in .*, re-applying 2 bindings: vnet0 in network namespace nwft-\S+, vnet1 in network namespace nwft-\S+"""

        Add-NwFilterRule web (New-NwFilterRule accept in tcp -DstPortStart 443) -Confirm:$false -InformationVariable said 6>$null
        "$(@($said | Where-Object { "$($_.MessageData)" -like 'Re-applied*' })[0].MessageData)" |
            Should -Match '^Re-applied 2 bindings in network namespace nwft-\S+: vnet0, vnet1\.$'
        $save = Get-NwFilterTestSave $Lab
        $save | Should -Match '-A FO-vnet0 -p tcp -m tcp --dport 443'
        $save | Should -Match '-A FO-vnet1 -p tcp -m tcp --dport 443'

        Remove-NwFilterRule web (New-NwFilterRule accept in tcp -DstPortStart 443) -Confirm:$false -InformationVariable said 6>$null
        "$(@($said | Where-Object { "$($_.MessageData)" -like 'Re-applied*' })[0].MessageData)" | Should -Match '^Re-applied 2 bindings'
        Get-NwFilterTestSave $Lab | Should -Not -Match '--dport 443'
        Get-NwFilterTestSave $Lab | Should -Match '--dport 22'
        Remove-NwFilterBinding vnet0, vnet1 -Confirm:$false
    }
}
