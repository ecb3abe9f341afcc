BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Get-NwFilter' {
    BeforeAll {
        Set-NwFilter -Name web -FilterRef clean-traffic -Rule (New-NwFilterRule accept in tcp -DstPortStart 80)
    }

    It 'lists the 30 built-in filters (libvirt''s 24 and our 6 nwfilter-*) and the defined ones, sorted by name' {
        $all = @(Get-NwFilter)
        $all.Count | Should -Be 31
        @($all | Where-Object Origin -eq BuiltIn).Count | Should -Be 30
        @($all | Where-Object { $_.Origin -eq 'BuiltIn' -and $_.Name -like 'nwfilter-*' }).Count | Should -Be 6
        ($all | Where-Object Name -eq web).Origin | Should -Be 'Defined'
        $names = @($all.Name)
        $names | Should -Be @($names | Sort-Object -CaseSensitive { $_ } -Culture ([cultureinfo]::InvariantCulture))
    }

    It 'returns FilterDefinition objects' {
        Get-NwFilter web | Should -BeOfType ([NwFilter.Core.Model.FilterDefinition])
    }

    It 'matches wildcards' {
        @(Get-NwFilter 'no-arp-*').Name | Should -Be @('no-arp-ip-spoofing', 'no-arp-mac-spoofing', 'no-arp-spoofing')
        @(Get-NwFilter 'nothing-*').Count | Should -Be 0
    }

    It 'takes names from the pipeline' {
        @('web', 'allow-arp' | Get-NwFilter).Name | Should -Be @('web', 'allow-arp')
    }

    It 'finds filters by uuid, also from the pipeline by property name' {
        $uuid = (Get-NwFilter web).Uuid
        (Get-NwFilter -Uuid $uuid).Name | Should -Be 'web'
        ([pscustomobject]@{ Uuid = $uuid } | Get-NwFilter).Name | Should -Be 'web'
    }

    It 'writes one FilterNotFound error per missing name and goes on' {
        $found = Get-NwFilter nope1, web, nope2 -ErrorVariable errs -ErrorAction SilentlyContinue
        $found.Name | Should -Be 'web'
        $errs.Count | Should -Be 2
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.GetNwFilterCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be 'nope1'
    }

    It 'refuses a wildcard that is not a valid pattern with InvalidWildcardPattern and goes on' {
        $found = Get-NwFilter 'web[', web -ErrorVariable errs -ErrorAction SilentlyContinue
        $found.Name | Should -Be 'web'
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'InvalidWildcardPattern,NwFilter.Commands.GetNwFilterCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $errs[0].TargetObject | Should -Be 'web['
        { Remove-NwFilter 'web[' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidWildcardPattern,NwFilter.Commands.RemoveNwFilterCommand'
        Get-NwFilter web | Should -Not -BeNullOrEmpty
    }

    It 'refuses an invalid name with InvalidFilterName' {
        { Get-NwFilter '../etc' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidFilterName,NwFilter.Commands.GetNwFilterCommand'
    }

    It 'reports an unreadable stored file and still lists the others' {
        Set-Content -LiteralPath (Join-Path $TestEnv.ConfigDir 'broken.xml') -Value "<filter name='broken'><rule"
        try {
            $all = @(Get-NwFilter -ErrorVariable errs -ErrorAction SilentlyContinue)
            $all.Name | Should -Contain 'web'
            $all.Name | Should -Not -Contain 'broken'
            $errs.Count | Should -Be 1
            $errs[0].TargetObject | Should -BeLike '*broken.xml'
        }
        finally { Remove-Item -LiteralPath (Join-Path $TestEnv.ConfigDir 'broken.xml') }
    }

    It 'prints canonical XML with -AsXml' {
        $xml = Get-NwFilter allow-arp -AsXml
        $xml | Should -BeOfType ([string])
        $xml | Should -BeLike "<filter name='allow-arp' chain='arp' priority='-500'>*"
        $xml | Should -Match "<uuid>[0-9a-f-]{36}</uuid>"
    }

    It 'completes filter names' {
        $completion = TabExpansion2 -inputScript 'Get-NwFilter allow-dhcp' -cursorColumn 'Get-NwFilter allow-dhcp'.Length
        @($completion.CompletionMatches.CompletionText) | Should -Be @('allow-dhcp', 'allow-dhcp-server', 'allow-dhcpv6', 'allow-dhcpv6-server')
    }
}
