BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Mac = '52:54:00:7b:35:93'
    $script:Params = @{ IP = '10.0.0.5'; IPV6 = @('fd00::5', 'fe80::5054:ff:fe7b:3593') }
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'NwFilter''s own dual-stack filters' {
    It 'nwfilter-no-ipv6-spoofing is built in and checks each IPV6 address on ebtables' {
        (Get-NwFilter nwfilter-no-ipv6-spoofing).Origin | Should -Be 'BuiltIn'
        $ruleset = Build-NwFilterRuleset nwfilter-no-ipv6-spoofing vnet0 $Mac -Parameter $Params -Backend EbIpTables
        "$ruleset" | Should -Match '--ip6-source fd00::5(/128)? -j RETURN'
        "$ruleset" | Should -Match '--ip6-source fe80::5054:ff:fe7b:3593(/128)? -j RETURN'
        "$ruleset" | Should -Match '--ip6-icmp-type 135'
    }

    It 'nwfilter-no-ipv6-router-advertisement drops ICMPv6 types 134 and 137 from the guest on nftables' {
        (Get-NwFilter nwfilter-no-ipv6-router-advertisement).Origin | Should -Be 'BuiltIn'
        $ruleset = Build-NwFilterRuleset nwfilter-no-ipv6-router-advertisement vnet0 $Mac -Backend Nftables
        "$ruleset" | Should -Match '134'
        "$ruleset" | Should -Match '137'
        "$ruleset" | Should -Match 'drop'
    }

    It 'nwfilter-no-dhcpv6-server drops UDP from port 547 from the guest on ebtables' {
        (Get-NwFilter nwfilter-no-dhcpv6-server).Origin | Should -Be 'BuiltIn'
        $ruleset = Build-NwFilterRuleset nwfilter-no-dhcpv6-server vnet0 $Mac -Backend EbIpTables
        "$ruleset" | Should -Match '--ip6-source-port 547 -j DROP'
    }

    It 'nwfilter-no-ndp-spoofing checks NA targets and link-layer options on nftables; ebtables returns NDP unchecked' {
        (Get-NwFilter nwfilter-no-ndp-spoofing).Origin | Should -Be 'BuiltIn'
        $nft = Build-NwFilterRuleset nwfilter-no-ndp-spoofing vnet0 $Mac -Parameter $Params -Backend Nftables
        "$nft" | Should -Match '@th,64,128 0xfd000000000000000000000000000005'
        "$nft" | Should -Match '@th,64,128 0xfe80000000000000505400fffe7b3593'
        "$nft" | Should -Match '@th,208,48 0x5254007b3593'
        $eb = Build-NwFilterRuleset nwfilter-no-ndp-spoofing vnet0 $Mac -Parameter $Params -Backend EbIpTables
        "$eb" | Should -Match '--ip6-icmp-type 136:136/0:255 -j RETURN'
        "$eb" | Should -Match '--ip6-icmp-type 136:136/0:255 -j DROP'
        $drop = ConvertFrom-NwFilterXml -Xml "<filter name='nd' chain='ipv6-nd'><rule action='drop' direction='out'><ipv6 protocol='icmpv6' type='136' ndtarget='fd00::9'/></rule></filter>"
        "$($drop | Build-NwFilterRuleset -PortDevice vnet0 -MacAddress $Mac -Backend Nftables)" | Should -Match '@th,64,128 0xfd000000000000000000000000000009'
        { $drop | Build-NwFilterRuleset -PortDevice vnet0 -MacAddress $Mac -Backend EbIpTables -ErrorAction Stop } |
            Should -Throw '*ndtarget*nftables*'
    }

    It 'nwfilter-no-ndp-spoofing-l3 closes NDP forgery on ebiptables with ip6tables u32 tests; a drop by an NDP field there is refused' {
        (Get-NwFilter nwfilter-no-ndp-spoofing-l3).Origin | Should -Be 'BuiltIn'
        $eb = @("$(Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter $Params -Backend EbIpTables)" -split "`n" | ForEach-Object TrimEnd)
        # The NA return for fd00::5 with the VM's MAC in the target link-layer option, in FJ (forwarded) and HJ (to the host).
        foreach ($chain in 'FJ-vnet0', 'HJ-vnet0') {
            $eb | Should -Contain "ip6tables -w -A $chain -p icmpv6 --icmpv6-type 136 -m u32 --u32 '0x4&0xffffff00=0x203a00&&0x30=0xfd000000&&0x34=0x0&&0x38=0x0&&0x3c=0x5&&0x40=0x2015254&&0x44=0x7b3593' -j RETURN"
            $eb | Should -Contain "ip6tables -w -A $chain -p icmpv6 --icmpv6-type 136 -j DROP"
            $eb | Should -Contain "ip6tables -w -A $chain -p icmpv6 --icmpv6-type 135 -j DROP"
            $eb | Should -Contain "ip6tables -w -A $chain -p icmpv6 --icmpv6-type 133 -j DROP"
        }
        @($eb | Where-Object { $_ -like '*FP-vnet0*--icmpv6-type*' }).Count | Should -Be 0
        $nft = Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter $Params -Backend Nftables
        "$nft" | Should -Match 'meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 136 @th,64,128 0xfd000000000000000000000000000005 ip6 length 24'
        $drop = ConvertFrom-NwFilterXml -Xml "<filter name='nd3' chain='root'><rule action='drop' direction='out'><icmpv6 type='136' ndtarget='fd00::9'/></rule></filter>"
        { $drop | Build-NwFilterRuleset -PortDevice vnet0 -MacAddress $Mac -Backend EbIpTables -ErrorAction Stop } |
            Should -Throw '*ndtarget*extension headers*'
    }

    It 'nwfilter-clean-traffic-dual-stack needs IP and IPV6 and uses both' {
        (Get-NwFilter nwfilter-clean-traffic-dual-stack).Origin | Should -Be 'BuiltIn'
        $ruleset = Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter $Params -Backend EbIpTables
        "$ruleset" | Should -Match '--ip-source 10.0.0.5 -j RETURN'
        "$ruleset" | Should -Match '--ip6-source fd00::5(/128)? -j RETURN'
        "$ruleset" | Should -Match '--ip6-icmp-type 134'
        { Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter @{ IP = '10.0.0.5'; CTRL_IPV6_LEARNING = 'none' } -Backend EbIpTables -ErrorAction Stop } |
            Should -Throw '*IPV6*CTRL_IPV6_LEARNING*none*'
    }

    It 'nwfilter-clean-traffic-dual-stack without IPV6 waits for IPv6 learning and says so' {
        $warnings = $null
        $ruleset = Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter @{ IP = '10.0.0.5' } -Backend EbIpTables -WarningVariable warnings 3>$null
        $ruleset.NeedsIpLearning | Should -BeTrue
        "$warnings" | Should -BeLike '*needs the variable IPV6 for vnet0*'
        { Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter @{ IP = '10.0.0.5'; CTRL_IPV6_LEARNING = 'sometimes' } -ErrorAction Stop } |
            Should -Throw "*'sometimes' of CTRL_IPV6_LEARNING*"
    }

    It 'IPV6_ROUTER = true leaves the RA guard out and keeps the DHCPv6 server guard; another value is refused' {
        $router = Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter ($Params + @{ IPV6_ROUTER = 'true' }) -Backend EbIpTables
        "$router" | Should -Not -Match '--ip6-icmp-type 134'
        "$router" | Should -Not -Match '--ip6-icmp-type 137'
        "$router" | Should -Match '--ip6-source-port 547 -j DROP'
        $guarded = Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter ($Params + @{ IPV6_ROUTER = 'false' }) -Backend EbIpTables
        "$guarded" | Should -Match '--ip6-icmp-type 134'
        $err = $null
        Build-NwFilterRuleset nwfilter-clean-traffic-dual-stack vnet0 $Mac -Parameter ($Params + @{ IPV6_ROUTER = 'yes' }) -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        @($err)[0].FullyQualifiedErrorId | Should -BeLike 'InvalidIPv6Router,*'
        "$(@($err)[0])" | Should -BeLike "*'yes' of IPV6_ROUTER*"
    }
}
