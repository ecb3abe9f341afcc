# The views of every output type (formats/NwFilter.Format.ps1xml, formats/NwFilter.Types.ps1xml): what an
# administrator reads in a table, a list and Format-List *, with no .NET type names or record dumps in it.
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:PreviousNetns = $env:NWFILTER_NETNS
    $env:NWFILTER_NETNS = $null
    $dir = New-Item -ItemType Directory -Force (Join-Path $TestEnv.StateDir 'bindings')
    $xml = @"
<filterbinding>
  <owner>
    <name>web1</name>
    <uuid>d7a2a3e6-8d3a-4c2f-9a1f-0d6c0b2f1e11</uuid>
  </owner>
  <portdev name='vnet0'/>
  <mac address='52:54:00:77:00:10'/>
  <filterref filter='clean-traffic'>
    <parameter name='IP' value='10.0.0.1'/>
    <parameter name='IP' value='10.0.0.2'/>
  </filterref>
</filterbinding>
"@
    [IO.File]::WriteAllText((Join-Path $dir 'vnet0.xml'), $xml)
    Set-NwFilter -Name web -Rule (New-NwFilterRule accept in tcp -DstPortStart 22), (New-NwFilterRule drop inout all -Priority 1000) -FilterRef @{ Filter = 'clean-traffic'; IP = '10.0.0.1' } -Confirm:$false

    # Every view of an object as text, wide enough that nothing is cut.
    function script:Show([Parameter(ValueFromPipeline)] $InputObject, [string] $As) {
        begin { $all = [Collections.Generic.List[object]]::new() }
        process { $all.Add($InputObject) }
        end {
            switch ($As) {
                'Table' { $all | Format-Table | Out-String -Width 250 }
                'List' { $all | Format-List | Out-String -Width 250 }
                'ListAll' { $all | Format-List * | Out-String -Width 250 }
            }
        }
    }
    # What must never reach a user: .NET generic type names and compiler-made record dumps.
    $script:Noise = 'System\.Collections|ImmutableArray|`1\[|\w+ \{ \w+ = '
}
AfterAll {
    $env:NWFILTER_NETNS = $script:PreviousNetns
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'The views of the output types' {
    It 'a rule reads as one says it: "<As>" view' -ForEach @(@{ As = 'Table' }, @{ As = 'List' }, @{ As = 'ListAll' }) {
        $rule = New-NwFilterRule accept in tcp -DstPortStart 22 -SrcIpAddr '!10.0.0.9'
        $text = $rule | Show -As $As
        $text | Should -Not -Match $Noise
        $text | Should -Match 'dstportstart=22'
        $text | Should -Match '!srcipaddr=10\.0\.0\.9'
    }

    It 'a rule''s ToString is its one-line form' {
        (New-NwFilterRule accept in tcp -DstPortStart 22).ToString() | Should -BeExactly 'accept in tcp dstportstart=22 priority=500'
        (New-NwFilterRule drop out ip -Priority 100 -StateMatch:$false).ToString() | Should -BeExactly 'drop out ip statematch=false priority=100'
        (New-NwFilterRule accept in tcp -DstPortStart 22) | Format-List | Out-String | Should -Match 'Rule\s+: accept in tcp dstportstart=22 priority=500'
    }

    It 'a filter''s list view shows each rule and reference on its own line' {
        $text = Get-NwFilter web | Show -As List
        $text | Should -Not -Match $Noise
        $text | Should -Match '(?m)^Rules\s+: accept in tcp dstportstart=22 priority=500\r?\n\s+drop inout all priority=1000$'
        $text | Should -Match '(?m)^References\s+: filterref clean-traffic IP=10\.0\.0\.1$'
        $text | Should -Match '(?m)^Origin\s+: Defined$'
    }

    It 'a filter''s Format-List * and table read without type names' {
        $all = Get-NwFilter web | Show -As ListAll
        $all | Should -Not -Match $Noise
        $all | Should -Match 'Entries\s+: \{filterref clean-traffic IP=10\.0\.0\.1, accept in tcp dstportstart=22 priority=500, drop inout all priority=1000\}'
        Get-NwFilter web | Show -As Table | Should -Not -Match $Noise
    }

    It 'the Get-NwFilter table tells built-in filters from one''s own' {
        # allow-dhcp: a built-in no stored binding uses, so redefining it changes no firewall (none is read: not root either).
        Set-NwFilter -Name allow-dhcp -Rule (New-NwFilterRule accept inout all) -Confirm:$false
        try {
            $table = Get-NwFilter web, no-ip-spoofing, allow-dhcp | Show -As Table
            $table | Should -Match '(?m)^Name\s+Origin\s'
            $table | Should -Match '(?m)^web\s+Defined\s'
            $table | Should -Match '(?m)^no-ip-spoofing\s+BuiltIn\s'
            $table | Should -Match '(?m)^allow-dhcp\s+Redefined\s'
        }
        finally { Remove-NwFilter allow-dhcp -Confirm:$false }
    }

    It 'a binding''s Format-List * has one property per fact, the MAC with colons and parameters as written' {
        $text = Get-NwFilterBinding vnet0 | Show -As ListAll
        $text | Should -Not -Match $Noise
        $text | Should -Match '(?m)^MacAddress\s+: 52:54:00:77:00:10$'
        $text | Should -Match '(?m)^Parameters\s+: IP=10\.0\.0\.1, 10\.0\.0\.2$'
        $text | Should -Match '(?m)^OwnerName\s+: web1$'
        $names = (Get-NwFilterBinding vnet0).PSObject.Properties.Name
        $names | Should -Not -Contain 'Owner'
        $names | Should -Not -Contain 'Parameter'
        @($names | Where-Object { $_ -eq 'MacAddress' }).Count | Should -Be 1
        @($names | Where-Object { $_ -eq 'Parameters' }).Count | Should -Be 1
    }

    It 'a binding''s list and table views read as written' {
        $list = Get-NwFilterBinding vnet0 | Show -As List
        $list | Should -Match '(?m)^MacAddress\s+: 52:54:00:77:00:10$'
        $list | Should -Match '(?m)^Parameters\s+: IP=10\.0\.0\.1, 10\.0\.0\.2$'
        Get-NwFilterBinding vnet0 | Show -As Table | Should -Match 'vnet0\s+52:54:00:77:00:10\s+clean-traffic\s+web1\s+EbIpTables\s+IP=10\.0\.0\.1, 10\.0\.0\.2'
    }

    It 'a binding read from XML (ConvertFrom-NwFilterXml) shows the same in its table and list views' {
        $b = ConvertFrom-NwFilterXml -LiteralPath (Join-Path $TestEnv.StateDir 'bindings/vnet0.xml')
        $b | Show -As List | Should -Match '(?m)^MacAddress\s+: 52:54:00:77:00:10$'
        $b | Show -As Table | Should -Match 'IP=10\.0\.0\.1, 10\.0\.0\.2'
    }

    It 'a binding still pipes back into Invoke-NwFilterBinding with its MAC, parameters and owner' {
        $b = Get-NwFilterBinding vnet0
        $b.Parameters['IP'] | Should -Be @('10.0.0.1', '10.0.0.2')
        $b.Parameters.Set -is [NwFilter.Core.Model.ParameterSet] | Should -BeTrue
        # What Invoke-NwFilterBinding takes by property name compiles from the binding (its kernel test applies it).
        $ruleset = $b | Build-NwFilterRuleset
        $text = $ruleset.ToString()
        $text | Should -Match '-s 52:54:00:77:00:10 -j RETURN'
        $text | Should -Match '--ip-source 10\.0\.0\.2 -j RETURN'
        $b | ConvertTo-NwFilterXml | Should -Match '<name>web1</name>'
    }

    It 'a compiled ruleset, its commands, rule instances and test results read without type names: <Name>' -ForEach @(
        @{ Name = 'Ruleset'; Make = { Build-NwFilterRuleset clean-traffic vnet0 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5' } } }
        @{ Name = 'FirewallCommand'; Make = { (Build-NwFilterRuleset clean-traffic vnet0 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5' }).Commands | Select-Object -First 3 } }
        @{ Name = 'RuleInstance'; Make = { Resolve-NwFilter web -MacAddress 52:54:00:7b:35:93 -Parameter @{ IP = '10.0.0.5' } } }
        @{ Name = 'FilterTestResult'; Make = { Test-NwFilter web, no-ip-spoofing } }
        @{ Name = 'Diagnostic'; Make = { (Test-NwFilter -Xml "<filter name='bad'><rule action='accept' direction='in'><tcp dstportstart='99999'/></rule></filter>").Problems } }
    ) {
        foreach ($as in 'Table', 'List', 'ListAll') {
            $objects = @(& $Make)
            $objects.Count | Should -BeGreaterThan 0
            $objects | Show -As $as | Should -Not -Match $Noise -Because "$Name as $as"
        }
    }
}
