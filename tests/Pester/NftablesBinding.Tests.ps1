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
    $script:Mac = '52:54:00:7b:35:93'
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Bindings with the nftables backend' {
    It 'prints the nft script with -WhatIf and changes nothing' {
        $out = Invoke-NwFilterInChild "Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.0.0.5' } -Backend Nftables -WhatIf"
        $out | Should -Match "nft -f - <<'EOF'"
        $out | Should -Match 'add table bridge nwfilter'
        $out | Should -Match 'create chain bridge nwfilter vnet0/1/1/I'
        $out | Should -Not -Match 'ebtables-restore'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'plans the learning rules for a binding that would learn its IP address, in nft form' {
        $out = Invoke-NwFilterInChild "Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Backend Nftables -WhatIf"
        $out | Should -Match "nft -f - <<'EOF'"
        $out | Should -Match "ether saddr != $Mac drop"
        $out | Should -Match 'ether type arp accept'
        $out | Should -Not -Match 'ebtables-restore'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'applies, shows the Backend, tests, switches backend and removes' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
        $binding = Get-NwFilterBinding vnet0
        $binding.Backend | Should -Be 'Nftables'
        $binding | Format-Table | Out-String -Width 160 | Should -Match 'vnet0\s+52:54:00:00:00:10\s+clean-traffic\s+vnet0\s+Nftables'
        $binding | ConvertTo-NwFilterXml | Should -Match "<backend name='nftables'/>"
        $ruleset = (& ip netns exec $Lab nft list ruleset) -join "`n"
        $ruleset | Should -Match 'table bridge nwfilter'
        $ruleset | Should -Match 'chain vnet0/\d+/\d+/I '
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet0'
        (Test-NwFilterBinding vnet0).Status | Should -Be 'InSync'

        # Re-applied from the pipeline, the binding keeps its backend.
        Get-NwFilterBinding vnet0 | Invoke-NwFilterBinding -Confirm:$false
        (Get-NwFilterBinding vnet0).Backend | Should -Be 'Nftables'

        # To EbIpTables and back: only the current backend's rules remain.
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Confirm:$false
        ((& ip netns exec $Lab nft list ruleset) -join "`n") | Should -Not -Match 'nwfilter'
        Get-NwFilterTestSave $Lab | Should -Match 'libvirt-I-vnet0'
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet0'

        # Restore re-applies it after a flush.
        & ip netns exec $Lab nft delete table bridge nwfilter
        (Test-NwFilterBinding vnet0).Status | Should -Be 'Missing'
        Restore-NwFilterBinding -Confirm:$false
        (Test-NwFilterBinding vnet0).Status | Should -Be 'InSync'

        Remove-NwFilterBinding vnet0 -Confirm:$false
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        ((& ip netns exec $Lab nft list ruleset) -join "`n") | Should -Not -Match 'nwfilter'
    }
}

# nft-default: nftables is the default backend where usable (docs/design/nftables.md, "The default backend").
Describe 'The default backend' {
    AfterEach {
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Remove-NwFilterBinding -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'gives a learning binding that names no backend the nftables default, with its learning rules and a learning job' -Skip:$NoKernel {
        & ip -n $Lab link set vnet0 up   # the learner captures on the port: it must be up
        Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Confirm:$false
        $binding = Get-NwFilterBinding vnet0
        $binding.Backend | Should -Be 'Nftables'
        $binding.LearningMode | Should -Be 'Any'
        $binding.LearningState | Should -Be 'Learning'
        (Get-Job -Name vnet0).PSJobTypeName | Should -Be 'NwFilterLearningJob'
        $ruleset = (& ip netns exec $Lab nft list ruleset) -join "`n"
        $ruleset | Should -Match "ether saddr != $Mac drop"
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet0'
        Remove-NwFilterBinding vnet0 -Confirm:$false
        (Get-Job -Name vnet0).State | Should -Be 'Stopped'
        Get-Job -Name vnet0 | Remove-Job
        & ip -n $Lab link set vnet0 down
    }

    It 'gives a new binding Nftables, says which and why (verbose and an information record), and a port keeps its backend' -Skip:$NoKernel {
        $verbose = Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.1.0.10' } -Confirm:$false -Verbose -InformationVariable info 4>&1
        (Get-NwFilterBinding vnet0).Backend | Should -Be 'Nftables'
        $record = @($info | Where-Object { $_.Tags -contains 'Backend' })
        $record | Should -HaveCount 1
        "$($record[0].MessageData)" | Should -Match '^Backend of vnet0 .*: Nftables, the default \(libnftables\.so\.1 loads and the kernel''s nf_tables answers'
        ($verbose | ForEach-Object { "$_" }) | Should -Contain "$($record[0].MessageData)"
        ((& ip netns exec $Lab nft list ruleset) -join "`n") | Should -Match 'chain vnet0/\d+/\d+/I '

        # An EbIpTables binding re-applied without -Backend stays on EbIpTables.
        Invoke-NwFilterBinding vnet1 52:54:00:00:00:11 clean-traffic -Parameter @{ IP = '10.1.0.11' } -Backend EbIpTables -Confirm:$false
        Invoke-NwFilterBinding vnet1 52:54:00:00:00:11 clean-traffic -Parameter @{ IP = '10.1.0.11' } -Confirm:$false
        (Get-NwFilterBinding vnet1).Backend | Should -Be 'EbIpTables'
        Get-NwFilterTestSave $Lab | Should -Match 'libvirt-I-vnet1'
    }

    It 'takes EbIpTables from NWFILTER_BACKEND' -Skip:$NoKernel {
        $out = Invoke-NwFilterInChild "`$env:NWFILTER_BACKEND = 'ebiptables'; Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.0.0.5' } -WhatIf"
        $out | Should -Match 'ebtables-restore'
        $out | Should -Not -Match 'add table bridge nwfilter'
    }

    It 'moves every binding to nftables with Restore-NwFilterBinding -Backend Nftables, and back' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 $Mac clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend EbIpTables -Confirm:$false
        Invoke-NwFilterBinding vnet1 52:54:00:00:00:11 clean-traffic -Parameter @{ IP = '10.1.0.11' } -Backend EbIpTables -Confirm:$false
        Get-NwFilterTestSave $Lab | Should -Match 'libvirt-I-vnet0'

        Restore-NwFilterBinding -Backend Nftables -Confirm:$false -WarningVariable w
        (Get-NwFilterBinding).Backend | Should -Be @('Nftables', 'Nftables')
        Get-NwFilterTestSave $Lab | Should -Not -Match 'vnet[01]'
        $ruleset = (& ip netns exec $Lab nft list ruleset) -join "`n"
        $ruleset | Should -Match 'chain vnet0/\d+/\d+/I '
        $ruleset | Should -Match 'chain vnet1/\d+/\d+/I '
        (Test-NwFilterBinding).Status | Should -Be @('InSync', 'InSync')
        $w | Should -BeNullOrEmpty

        Restore-NwFilterBinding vnet1 -Backend EbIpTables -Confirm:$false
        (Get-NwFilterBinding vnet1).Backend | Should -Be 'EbIpTables'
        (Get-NwFilterBinding vnet0).Backend | Should -Be 'Nftables'
        Get-NwFilterTestSave $Lab | Should -Match 'libvirt-I-vnet1'
        ((& ip netns exec $Lab nft list ruleset) -join "`n") | Should -Not -Match 'chain vnet1/'
    }
}
