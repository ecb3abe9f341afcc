BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    function Get-RuleXml([NwFilter.Core.Model.FilterRule] $Rule) {
        # The rule as libvirt prints it: define it in a probe filter and keep the rule's lines.
        Set-NwFilter -Name rule-probe -Rule $Rule
        ((Get-NwFilter rule-probe -AsXml) -split "`n" | Where-Object { $_ -and $_ -notmatch '^</?filter|<uuid>' }) -join "`n"
    }
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'New-NwFilterRule' {
    It 'makes a rule with defaults: priority 500, state matching, no protocol' {
        $r = New-NwFilterRule accept inout
        $r | Should -BeOfType ([NwFilter.Core.Model.FilterRule])
        $r.Action | Should -Be 'Accept'
        $r.Direction | Should -Be 'InOut'
        $r.Priority | Should -Be 500
        $r.StateMatch | Should -BeTrue
        $r.Protocol | Should -Be 'None'
    }

    It 'takes attributes as dynamic parameters and as a hashtable, in canonical form' {
        $r = New-NwFilterRule accept in tcp -DstPortStart 22 -Attribute @{ srcipaddr = '10.0.0.0'; srcipmask = '255.0.0.0' } -Priority 100
        Get-RuleXml $r | Should -Be @"
  <rule action='accept' direction='in' priority='100'>
    <tcp srcipaddr='10.0.0.0' srcipmask='8' dstportstart='22'/>
  </rule>
"@.Replace("`r", '').TrimEnd()
    }

    It 'takes the XML name of a hyphenated attribute as an alias' {
        $r = New-NwFilterRule accept in vlan -EncapProtocol ipv4
        Get-RuleXml $r | Should -BeLike "*<vlan encap-protocol='ipv4'/>*"
    }

    It 'negates with a ! prefix or with -Not, and keeps variables' {
        $r = New-NwFilterRule drop out ip -Attribute @{ srcipaddr = '!$IP' } -Not protocol -IpProtocol udp
        Get-RuleXml $r | Should -BeLike "*<ip match='no' srcipaddr='`$IP' protocol='udp'/>*"
    }

    It 'warns when libvirt copies a negation over the one asked for' {
        $r = New-NwFilterRule drop in tcp -DstPortStart '!22' -WarningVariable w -WarningAction SilentlyContinue
        "$w" | Should -BeLike "*dstportstart*srcportstart*"
        $r.Attributes[0].Value.Negated | Should -BeFalse
    }

    It 'writes statematch=false' {
        Get-RuleXml (New-NwFilterRule accept out all -StateMatch $false) | Should -BeLike "*statematch='false'*"
    }

    It 'refuses an invalid value with the reader''s message' {
        $err = { New-NwFilterRule accept in ip -SrcIpAddr 10.0.0.300 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidAttributeValue,NwFilter.Commands.NewNwFilterRuleCommand' -PassThru
        $err.Exception.Message | Should -BeLike '*srcipaddr has illegal value 10.0.0.300*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'refuses an attribute the protocol does not have, listing the valid ones' {
        $err = { New-NwFilterRule accept in udp -Attribute @{ flags = 'SYN/SYN' } -ErrorAction Stop } | Should -Throw -ErrorId 'UnknownAttribute,NwFilter.Commands.NewNwFilterRuleCommand' -PassThru
        $err.Exception.Message | Should -BeLike '*dstportstart*'
    }

    It 'refuses attributes without a protocol' {
        { New-NwFilterRule accept in -Attribute @{ srcipaddr = '1.2.3.4' } -ErrorAction Stop } | Should -Throw -ErrorId 'UnknownAttribute,NwFilter.Commands.NewNwFilterRuleCommand'
    }

    It 'refuses an unknown protocol at binding time' {
        { New-NwFilterRule accept in bogus } | Should -Throw -ErrorId 'ParameterArgumentValidationError,NwFilter.Commands.NewNwFilterRuleCommand'
    }

    It 'refuses ports on an ip rule without tcp, udp, dccp or sctp, as the reader does' {
        { New-NwFilterRule accept in ip -DstPortStart 22 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidPortSpecification,NwFilter.Commands.NewNwFilterRuleCommand'
    }

    It 'completes protocols and attribute names' {
        $line = 'New-NwFilterRule accept in tcp-'
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText) | Should -Contain 'tcp-ipv6'
        $line = 'New-NwFilterRule accept in udp -Not dstport'
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText) | Should -Be @('dstportend', 'dstportstart')
    }
}
