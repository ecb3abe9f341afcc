BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:PreviousNetns = $env:NWFILTER_NETNS
    $env:NWFILTER_NETNS = $null
    # Bindings as libvirt writes them, placed by hand: reading needs no firewall and no root.
    $dir = New-Item -ItemType Directory -Force (Join-Path $TestEnv.StateDir 'bindings')
    $script:Vnet0 = @"
<filterbinding>
  <owner>
    <name>web1</name>
    <uuid>d7a2a3e6-8d3a-4c2f-9a1f-0d6c0b2f1e11</uuid>
  </owner>
  <portdev name='vnet0'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <filterref filter='clean-traffic'>
    <parameter name='IP' value='10.0.0.5'/>
    <parameter name='IP' value='10.0.0.6'/>
  </filterref>
</filterbinding>

"@ -replace "`r", ''
    [IO.File]::WriteAllText((Join-Path $dir 'vnet0.xml'), $Vnet0)
    [IO.File]::WriteAllText((Join-Path $dir 'vnet1.xml'), ($Vnet0 -replace 'vnet0', 'vnet1' -replace 'clean-traffic', 'test-eth0'))
    $ns = New-Item -ItemType Directory -Force (Join-Path $TestEnv.StateDir 'netns/lab7/bindings')
    [IO.File]::WriteAllText((Join-Path $ns 'vnet9.xml'), ($Vnet0 -replace 'vnet0', 'vnet9'))
}
AfterAll {
    $env:NWFILTER_NETNS = $script:PreviousNetns
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Get-NwFilterBinding' {
    It 'lists the bindings with the properties the binding cmdlets take' {
        $all = Get-NwFilterBinding
        $all.PortDevice | Should -Be @('vnet0', 'vnet1')
        $all[0].Filter | Should -Be 'clean-traffic'
        $all[0].OwnerName | Should -Be 'web1'
        "$($all[0].MacAddress)" | Should -Be '52:54:00:aa:bb:cc'
        $all[0].Parameters['IP'] | Should -Be @('10.0.0.5', '10.0.0.6')
        $all[0].NetworkNamespace | Should -BeNullOrEmpty
    }

    It 'gives libvirt''s filterbinding XML through ConvertTo-NwFilterXml' {
        Get-NwFilterBinding vnet0 | ConvertTo-NwFilterXml | Should -BeExactly $Vnet0
    }

    It 'takes wildcards and reads another namespace''s bindings' {
        (Get-NwFilterBinding 'vnet*1').PortDevice | Should -Be 'vnet1'
        $other = Get-NwFilterBinding -NetworkNamespace lab7
        $other.PortDevice | Should -Be 'vnet9'
        $other.NetworkNamespace | Should -Be 'lab7'
    }

    It 'shows a table with the owner and the parameters' {
        Get-NwFilterBinding vnet0 | Format-Table | Out-String -Width 160 | Should -Match 'vnet0\s+52:54:00:aa:bb:cc\s+clean-traffic\s+web1\s+EbIpTables\s+IP=10\.0\.0\.5, 10\.0\.0\.6'
    }

    It 'writes BindingNotFound for a port device without a binding' {
        Get-NwFilterBinding vnet0, vnet7 -ErrorVariable errs -ErrorAction SilentlyContinue | Should -HaveCount 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'BindingNotFound,NwFilter.Commands.GetNwFilterBindingCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be 'vnet7'
    }

    It 'refuses a wildcard that is not a valid pattern with InvalidWildcardPattern' {
        $found = Get-NwFilterBinding 'vnet[0', vnet1 -ErrorVariable errs -ErrorAction SilentlyContinue
        $found.PortDevice | Should -Be 'vnet1'
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'InvalidWildcardPattern,NwFilter.Commands.GetNwFilterBindingCommand'
        $errs[0].TargetObject | Should -Be 'vnet[0'
    }

    It 'completes port devices' {
        $completion = TabExpansion2 -inputScript 'Remove-NwFilterBinding -PortDevice vn' -cursorColumn 37
        $completion.CompletionMatches.CompletionText | Should -Be @('vnet0', 'vnet1')
        $other = TabExpansion2 -inputScript 'Get-NwFilterBinding -NetworkNamespace lab7 -PortDevice ' -cursorColumn 55
        $other.CompletionMatches.CompletionText | Should -Be @('vnet9')
    }

    It 'pipes into the binding cmdlets by property name' {
        # -WhatIf against a namespace that does not exist: parameters bind, the runtime refuses the namespace
        # (NetworkNamespaceNotFound, one error per piped binding), nothing is read or changed.
        $env:NWFILTER_NETNS = "nwfilter-absent-$PID"
        try {
            Get-NwFilterBinding -NetworkNamespace lab7 | Invoke-NwFilterBinding -NetworkNamespace "nwfilter-absent-$PID" -WhatIf -ErrorVariable errs -ErrorAction SilentlyContinue 6>$null
            @($errs).Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'NetworkNamespaceNotFound,NwFilter.Commands.InvokeNwFilterBindingCommand'
            $errs[0].TargetObject | Should -Be 'vnet9'
            Join-Path $TestEnv.StateDir "netns/nwfilter-absent-$PID" | Should -Not -Exist
        }
        finally { $env:NWFILTER_NETNS = $null }
        $ruleset = Get-NwFilterBinding vnet0 | Build-NwFilterRuleset
        "$ruleset" | Should -Match 'J-vnet0-ipv4-ip -p ipv4 --ip-source 10.0.0.6 -j RETURN'

    }

    It 'counts the bindings as uses of their filters' {
        Set-NwFilter -Name test-eth0 -FilterRef clean-traffic
        { Remove-NwFilter test-eth0 -ErrorAction Stop } | Should -Throw -ErrorId 'FilterInUse,NwFilter.Commands.RemoveNwFilterCommand'
    }
}
