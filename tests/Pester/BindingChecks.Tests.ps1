# A typo must not look like success: the runtime's checks as the binding cmdlets show them (a namespace that does
# not exist, a port device that is no interface, a process without CAP_NET_ADMIN).
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoKernel = -not (Test-NwFilterKernelTests)
    $script:NoSetpriv = $NoKernel -or -not (Get-Command setpriv -ErrorAction Ignore)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterTestNamespace -Ports 1
    $script:Mac = '52:54:00:7b:35:93'
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'The binding cmdlets'' checks' {
    It 'says "no network namespace named X" before anything else and leaves no lock file behind' {
        $absent = "nwfilter-typo-$PID"
        Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac allow-arp -NetworkNamespace $absent -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'NetworkNamespaceNotFound,NwFilter.Commands.InvokeNwFilterBindingCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        "$($errs[0])" | Should -BeLike "There is no network namespace named '$absent'*Nothing was changed."
        Join-Path $TestEnv.StateDir "netns/$absent" | Should -Not -Exist
        Remove-NwFilterBinding vnet0 -NetworkNamespace $absent -Confirm:$false -ErrorVariable errs2 -ErrorAction SilentlyContinue
        $errs2 | Should -Not -BeNullOrEmpty
        Test-NwFilterBinding -NetworkNamespace $absent -ErrorVariable errs3 -ErrorAction SilentlyContinue
        Join-Path $TestEnv.StateDir "netns/$absent" | Should -Not -Exist
    }

    It 'warns when the port device is no interface, and Test-NwFilterBinding reports the port as missing' -Skip:$NoKernel {
        $out = Invoke-NwFilterBinding -Backend EbIpTables vent0 $Mac allow-arp -Confirm:$false -WarningVariable warned 3>$null
        @($warned).Count | Should -Be 1
        "$($warned[0])" | Should -BeLike "There is no interface 'vent0' in network namespace $Lab*the binding is kept*"
        (Get-NwFilterBinding vent0).PortDevice | Should -Be 'vent0'

        Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac allow-arp -Confirm:$false -WarningVariable none 3>$null
        $none | Should -BeNullOrEmpty

        $drift = Test-NwFilterBinding -WarningVariable testWarned 3>$null
        ($drift | Where-Object PortDevice -eq vent0).PortDeviceExists | Should -BeFalse
        ($drift | Where-Object PortDevice -eq vnet0).PortDeviceExists | Should -BeTrue
        "$testWarned" | Should -BeLike '*vent0: there is no such interface*(PortDeviceNotFound)*'
        $drift | Format-Table | Out-String -Width 160 | Should -Match 'vent0\s+allow-arp\s+InSync, no port'
        Remove-NwFilterBinding vent0, vnet0 -Confirm:$false
    }

    It 'says that changing the firewall needs root (CAP_NET_ADMIN), as PermissionDenied, before any tool runs' -Skip:$NoSetpriv {
        # Root without CAP_NET_ADMIN (dropped from the bounding and inheritable sets): the lab's firewall must stay as it is.
        $before = Get-NwFilterTestSave $Lab
        $manifest = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter/NwFilter.psd1'))
        $exe = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $script = "Import-Module '$manifest'; Invoke-NwFilterBinding -Backend EbIpTables vnet0 $Mac allow-arp -Confirm:`$false -ErrorVariable e -ErrorAction SilentlyContinue; " +
            "`$e | ForEach-Object { `$_.FullyQualifiedErrorId + '|' + `$_.CategoryInfo.Category + '|' + `$_ }"
        $out = & setpriv --inh-caps=-net_admin --bounding-set=-net_admin -- $exe @pre -NoProfile -NonInteractive -Command $script 2>&1
        $line = @($out | Where-Object { "$_" -like '*|*' })
        $line.Count | Should -Be 1 -Because ($out -join "`n")
        $id, $category, $message = "$($line[0])" -split '\|', 3
        $id | Should -Be 'FirewallNeedsRoot,NwFilter.Commands.InvokeNwFilterBindingCommand'
        $category | Should -Be 'PermissionDenied'
        $message | Should -BeLike 'Changing the firewall needs root (CAP_NET_ADMIN)*'
        Get-NwFilterTestSave $Lab | Should -Be $before
        Get-NwFilterBinding vnet0 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Completion and help of the binding cmdlets' {
    It 'completes -NetworkNamespace from the host''s network namespaces' -Skip:$NoKernel {
        $line = "Get-NwFilterBinding -NetworkNamespace $($Lab.Substring(0, 8))"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain $Lab
    }

    It 'completes Invoke-NwFilterBinding''s -PortDevice from the namespace''s interfaces' -Skip:$NoKernel {
        $line = "Invoke-NwFilterBinding -NetworkNamespace $Lab -PortDevice "
        $found = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $found | Should -Contain 'vnet0'
        $found | Should -Contain 'br0'
        $found | Should -Not -Contain 'lo'
    }

    It 'links <Verb>-NwFilterBinding to its sibling binding cmdlets' -ForEach @(
        @{ Verb = 'Get' }, @{ Verb = 'Invoke' }, @{ Verb = 'Remove' }, @{ Verb = 'Restore' }, @{ Verb = 'Test' }
    ) {
        $links = @((Get-Help "$Verb-NwFilterBinding").relatedLinks.navigationLink.linkText)
        foreach ($sibling in @('Get', 'Invoke', 'Remove', 'Restore', 'Test') | Where-Object { $_ -ne $Verb }) {
            $links | Should -Contain "$sibling-NwFilterBinding"
        }
    }
}
