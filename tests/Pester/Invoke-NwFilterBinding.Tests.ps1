BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoKernel = -not (Test-NwFilterKernelTests)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterTestNamespace -Ports 3
    $script:Mac = '52:54:00:7b:35:93'
    Set-NwFilter -Path (Join-Path $TestEnv.Root 'demo/filters/test-eth0.xml')
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Invoke-NwFilterBinding' {
    It 'prints the exact plan with -WhatIf and changes nothing' {
        $out = Invoke-NwFilterInChild "Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac clean-traffic -Parameter @{ IP = '10.0.0.5' } -WhatIf"
        $out | Should -Match 'What if: Apply filter ''clean-traffic'' \(52:54:00:7b:35:93, IP=10.0.0.5\) to port vnet0'
        $out | Should -Match "ebtables-restore --noflush <<'EOF'"
        $out | Should -Match '-A J-vnet0-mac -s 52:54:00:7b:35:93 -j RETURN'
        $out | Should -Match "nft -f - <<'EOF'"
        $out | Should -Match 'rename chain bridge nat libvirt-J-vnet0 libvirt-I-vnet0'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'refuses a filter that needs IP without one when CTRL_IP_LEARNING is none' {
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac clean-traffic -Parameter @{ CTRL_IP_LEARNING = 'None' } -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'UnresolvedVariable,NwFilter.Commands.InvokeNwFilterBindingCommand'
        $errs[0].TargetObject | Should -Be 'vnet0'
        "$($errs[0])" | Should -BeLike "*CTRL_IP_LEARNING is 'none', so the address is not learned*"
        Get-Job | Should -BeNullOrEmpty
    }

    It 'refuses a DHCPSERVER that is not an IPv4 address' {
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac clean-traffic -Parameter @{ CTRL_IP_LEARNING = 'dhcp'; DHCPSERVER = 'fd00::1' } -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'InvalidDhcpServer,NwFilter.Commands.InvokeNwFilterBindingCommand'
    }

    It 'shows the learning rules as the plan of a binding that learns its IP, with -WhatIf' {
        $out = Invoke-NwFilterInChild "Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac clean-traffic -WhatIf"
        $out | Should -Match '-A libvirt-J-vnet0 -s ! 52:54:00:7b:35:93 -j DROP'
        $out | Should -Not -Match 'iptables-restore'
    }

    It 'writes FilterNotFound for an unknown filter and binds the others of the pipeline' -Skip:$NoKernel {
        @(
            [pscustomobject]@{ PortDevice = 'vnet0'; MacAddress = '52:54:00:00:00:10'; Filter = 'clean-traffic'; Parameter = @{ IP = '10.1.0.10' } }
            [pscustomobject]@{ PortDevice = 'vnet1'; MacAddress = '52:54:00:00:00:11'; Filter = 'nope' }
            [pscustomobject]@{ PortDevice = 'vnet2'; MacAddress = '52:54:00:00:00:12'; Filter = 'clean-traffic'; Parameter = @{ IP = '10.1.0.12', '10.1.0.13' } }
        ) | Invoke-NwFilterBinding -Backend EbIpTables -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.InvokeNwFilterBindingCommand'
        $errs[0].TargetObject | Should -Be 'vnet1'
        (Get-NwFilterBinding).PortDevice | Should -Be @('vnet0', 'vnet2')
        $save = Get-NwFilterTestSave $Lab
        $save | Should -Match '-A PREROUTING -i vnet0 -j libvirt-I-vnet0'
        $save | Should -Match '-A I-vnet2-ipv4-ip -p IPv4 --ip-src 10.1.0.13 -j RETURN'
        $save | Should -Not -Match 'J-vnet'
    }

    It 'replaces a binding and returns it with -PassThru' -Skip:$NoKernel {
        $b = Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:00:00:10 test-eth0 -Parameter @{ IP = '10.1.0.10' } -Owner web1 -Confirm:$false -PassThru -Verbose 4>&1
        $verbose = $b | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        "$($verbose[-1])" | Should -Match 'Applied 1 of 1 bindings in network namespace nwft-.*: 4 transactions'
        $binding = $b | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $binding.Filter | Should -Be 'test-eth0'
        $binding.OwnerName | Should -Be 'web1'
        Get-NwFilterTestSave $Lab | Should -Match '-A FO-vnet0 -p tcp -m tcp --dport 22'
    }

    It 'keeps the previous rules when a firewall tool fails, and says which' -Skip:$NoKernel {
        $before = Get-NwFilterTestSave $Lab
        $shim = New-Item -ItemType Directory -Force (Join-Path $TestEnv.TempDir 'shim')
        $tool = Join-Path $shim 'iptables-restore'
        Set-Content -LiteralPath $tool -Value "#!/bin/sh`necho 'iptables-restore: injected failure' >&2`nexit 4"
        & chmod +x $tool
        $path = $env:PATH
        try {
            $env:PATH = "$shim$([IO.Path]::PathSeparator)$path"
            Invoke-NwFilterBinding -Backend EbIpTables vnet2 52:54:00:00:00:12 test-eth0 -Parameter @{ IP = '10.1.0.12' } -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        }
        finally { $env:PATH = $path }
        $errs[0].FullyQualifiedErrorId | Should -Be 'FirewallApplyFailed,NwFilter.Commands.InvokeNwFilterBindingCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        "$($errs[0])" | Should -BeLike "*'iptables-restore --noflush'*exited with 4: iptables-restore: injected failure*previous rules stay in force*"
        Get-NwFilterTestSave $Lab | Should -Be $before
        (Get-NwFilterBinding vnet2).Filter | Should -Be 'clean-traffic'
    }

    It 'applies what Get-NwFilterBinding outputs again' -Skip:$NoKernel {
        $shown = { Get-NwFilterBinding | ForEach-Object { "$($_.PortDevice) $($_.MacAddress) $($_.Filter) $($_.OwnerName) $($_.OwnerUuid) $($_.Parameters)" } }
        $before = & $shown
        Get-NwFilterBinding | Invoke-NwFilterBinding -Confirm:$false -PassThru | Should -HaveCount 2
        # MAC, owner and parameters bind back by name (OwnerName and Parameters through -Owner's and -Parameter's aliases).
        & $shown | Should -Be $before
    }

    It 're-instantiates the bindings when Set-NwFilter changes a filter they use, through references too' -Skip:$NoKernel {
        $original = Get-NwFilter no-ip-spoofing
        Set-NwFilter -Name no-ip-spoofing -Chain ipv4-ip -Rule @(
            New-NwFilterRule return out ip -Attribute @{ srcipaddr = '$IP' }
            New-NwFilterRule drop out ip
        ) -InformationVariable said 6>$null
        # Said without -Verbose: an information record, shown as Write-Host shows it.
        $record = @($said | Where-Object { "$($_.MessageData)" -like 'Re-applied*' })
        $record.Count | Should -Be 1
        "$($record[0].MessageData)" | Should -Match '^Re-applied 2 bindings in network namespace nwft-\S+: vnet0, vnet2\.$'
        Get-NwFilterTestSave $Lab | Should -Not -Match 'I-vnet2-ipv4-ip -p IPv4 --ip-src 0.0.0.0'
        # Removing the redefinition brings the built-in back: a change too.
        Remove-NwFilter no-ip-spoofing 6>&1 | Out-String | Should -Match 'Re-applied 2 bindings'
        Get-NwFilterTestSave $Lab | Should -Match 'I-vnet2-ipv4-ip -p IPv4 --ip-src 0.0.0.0'
        { Remove-NwFilter clean-traffic -ErrorAction Stop } | Should -Throw -ErrorId 'BuiltInFilterNotRemovable,NwFilter.Commands.RemoveNwFilterCommand'
        { Remove-NwFilter test-eth0 -ErrorAction Stop } | Should -Throw -ErrorId 'FilterInUse,NwFilter.Commands.RemoveNwFilterCommand'
        $original | Should -Not -BeNullOrEmpty
    }

    It 'undoes a filter change the bindings cannot take' -Skip:$NoKernel {
        $before = Get-NwFilterTestSave $Lab
        $xml = Get-NwFilter test-eth0 | ConvertTo-NwFilterXml
        Set-NwFilter -Name test-eth0 -Rule (New-NwFilterRule accept in tcp -Attribute @{ dstportstart = '$PORT' }) -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'ReinstantiationFailed,NwFilter.Commands.SetNwFilterCommand'
        "$($errs[0])" | Should -BeLike '*undone*'
        "$($errs[0])" | Should -BeLike '*PORT*'
        Get-NwFilter test-eth0 | ConvertTo-NwFilterXml | Should -Be $xml
        Get-NwFilterTestSave $Lab | Should -Be $before
    }
}
