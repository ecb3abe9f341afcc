BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Mac = '52:54:00:7b:35:93'
    Set-NwFilter -Path (Join-Path $TestEnv.Root 'demo/filters/test-eth0.xml')
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Build-NwFilterRuleset' {
    It 'prints libvirt''s commands for clean-traffic as shell lines' {
        $ruleset = Build-NwFilterRuleset -Filter clean-traffic -PortDevice vnet0 -MacAddress $Mac -Parameter @{ IP = '10.0.0.5' }
        $lines = ($ruleset | Out-String).Trim() -split "`n"
        $lines[0] | Should -Be 'ebtables --concurrent -t nat -D PREROUTING -i vnet0 -j libvirt-J-vnet0'
        $lines | Should -Contain 'ebtables --concurrent -t nat -A J-vnet0-mac -s 52:54:00:7b:35:93 -j RETURN'
        $lines.Count | Should -Be $ruleset.Commands.Length
    }

    It 'exposes each command''s program and arguments' {
        $ruleset = Build-NwFilterRuleset test-eth0 vnet1 $Mac -Parameter @{ IP = '10.0.0.5', '10.0.0.6' }
        $programs = $ruleset.Commands | Group-Object Program -AsHashTable -AsString
        $programs.Keys | Sort-Object | Should -Be @('ebtables', 'iptables')
        $first = $ruleset.Commands[0]
        $first.Arguments[0..2] | Should -Be @('--concurrent', '-t', 'nat')
        @($ruleset.Commands | Where-Object { $_.Arguments -contains '10.0.0.6' }).Count | Should -BeGreaterThan 0
    }

    It 'compiles a filter object from the pipeline, its references from the store' {
        $filter = ConvertFrom-NwFilterXml -Xml "<filter name='web'><filterref filter='no-mac-spoofing'/><rule action='accept' direction='in'><tcp dstportstart='443'/></rule></filter>"
        $ruleset = $filter | Build-NwFilterRuleset -PortDevice vnet3 -MacAddress $Mac
        "$ruleset" | Should -Match '--dport 443'
        "$ruleset" | Should -Match 'I-vnet3-mac|J-vnet3-mac'
    }

    It 'warns and gives no commands when only IP is missing' {
        $ruleset = Build-NwFilterRuleset clean-traffic vnet0 $Mac -WarningVariable w -WarningAction SilentlyContinue
        $ruleset.NeedsIpLearning | Should -BeTrue
        $ruleset.Commands.Length | Should -Be 0
        "$w" | Should -BeLike "*IP*-Parameter*"
    }

    It 'writes FilterNotFound for an unknown filter' {
        Build-NwFilterRuleset nope vnet0 $Mac -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.BuildNwFilterRulesetCommand'
        $errs[0].TargetObject | Should -Be 'nope'
    }

    It 'refuses a port device that cannot be an interface name' {
        { Build-NwFilterRuleset clean-traffic 'bad name' $Mac -Parameter @{ IP = '10.0.0.5' } -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidPortDevice,NwFilter.Commands.BuildNwFilterRulesetCommand'
    }

    It 'refuses a malformed MAC address when binding the parameter' {
        { Build-NwFilterRuleset clean-traffic vnet0 -MacAddress 'zz:54' } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,NwFilter.Commands.BuildNwFilterRulesetCommand'
    }
}
