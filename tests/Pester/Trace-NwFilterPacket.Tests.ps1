BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoKernel = -not (Test-NwFilterKernelTests)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
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
  <portdev name='vnet7'/>
  <mac address='52:54:00:77:00:10'/>
  <filterref filter='clean-traffic'>
    <parameter name='IP' value='10.0.0.1'/>
  </filterref>
</filterbinding>
"@
    [IO.File]::WriteAllText((Join-Path $dir 'vnet7.xml'), $xml)
    $script:Mac = '52:54:00:77:00:10'
}
AfterAll {
    $env:NWFILTER_NETNS = $script:PreviousNetns
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Trace-NwFilterPacket' {
    It 'lets the bound VM''s own TCP packet pass and ends with the decision' {
        $steps = @(Trace-NwFilterPacket -PortDevice vnet7 -Protocol tcp -DestinationAddress 10.0.0.9 -DestinationPort 22)
        $steps[-1].Kind | Should -Be 'Decision'
        $steps[-1].Verdict | Should -Be 'Accept'
        $steps[-1].PortDevice | Should -Be 'vnet7'
        @($steps | Where-Object Kind -eq 'Decision').Count | Should -Be 1
    }

    It 'names the filter, priority and rule that drop a forged source address' {
        $last = Trace-NwFilterPacket vnet7 -Protocol udp -SourceAddress 10.0.0.99 -DestinationPort 53 | Select-Object -Last 1
        $last.Verdict | Should -Be 'Drop'
        $last.Filter | Should -Be 'no-ip-spoofing'
        $last.Priority | Should -BeOfType [int]
        $last.Rule | Should -BeLike '<rule action=''drop''*'
    }

    It 'traces a filter with parameters without a binding' {
        $last = Trace-NwFilterPacket -Filter clean-traffic -MacAddress $Mac -Parameter @{ IP = '10.0.0.5' } -Protocol arp -SourceAddress 10.0.0.99 | Select-Object -Last 1
        $last.Verdict | Should -Be 'Drop'
        $last.Filter | Should -Be 'no-arp-ip-spoofing'
        $last.PortDevice | Should -BeNullOrEmpty
    }

    It 'traces each frame of a pcap file' {
        $pcap = Join-Path $TestDrive 'two.pcap'
        $frames = [Collections.Generic.List[byte[]]]::new()
        foreach ($spec in @(@{ Mac = @(0x52, 0x54, 0x00, 0x77, 0x00, 0x10); Type = @(0x88, 0xb5) }, @{ Mac = @(0x52, 0x54, 0x00, 0x66, 0x66, 0x66); Type = @(0x88, 0xb5) })) {
            $frames.Add([byte[]](@(0xff) * 6 + $spec.Mac + $spec.Type + @(0) * 46))
        }
        $ms = [IO.MemoryStream]::new()
        $w = [IO.BinaryWriter]::new($ms)
        $w.Write([uint32]2712847316); $w.Write([uint16]2); $w.Write([uint16]4); $w.Write([int]0); $w.Write([uint32]0); $w.Write([uint32]65535); $w.Write([uint32]1)
        foreach ($f in $frames) { $w.Write([uint32]0); $w.Write([uint32]0); $w.Write([uint32]$f.Length); $w.Write([uint32]$f.Length); $w.Write($f) }
        $w.Flush()
        [IO.File]::WriteAllBytes($pcap, $ms.ToArray())
        $decisions = @(Trace-NwFilterPacket vnet7 -Path $pcap -Direction Out | Where-Object Kind -eq Decision)
        $decisions.Count | Should -Be 2
        $decisions.Packet | Should -Be @(1, 2)
        $decisions[0].Filter | Should -Be 'no-other-l2-traffic'
        $decisions[1].Filter | Should -Be 'no-mac-spoofing'
    }

    It 'says there is no binding on an unbound port' {
        Trace-NwFilterPacket -PortDevice vnet99 -DestinationPort 1 -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'TraceNoBinding,NwFilter.Commands.TraceNwFilterPacketCommand'
        $errs[0].Exception.Message | Should -BeLike 'No binding on port vnet99*'
        $errs[0].TargetObject | Should -Be 'vnet99'
    }

    It 'names the field of a bad packet description' -TestCases @(
        @{ Splat = @{ SourceMac = 'zz'; DestinationPort = 1 }; Field = 'SourceMac' }
        @{ Splat = @{ Protocol = 'smtp' }; Field = 'Protocol' }
        @{ Splat = @{ Protocol = 'udp' }; Field = 'DestinationPort' }
        @{ Splat = @{ DestinationPort = 1; TcpFlags = 'SYN,NOPE' }; Field = 'TcpFlags' }
    ) {
        param($Splat, $Field)
        Trace-NwFilterPacket vnet7 @Splat -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'TracePacketFieldInvalid,NwFilter.Commands.TraceNwFilterPacketCommand'
        $errs[0].Exception.Message | Should -BeLike "Packet field $Field*"
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'shows the steps in a table and the rule XML in a list' {
        $steps = Trace-NwFilterPacket vnet7 -Protocol udp -SourceAddress 10.0.0.99 -DestinationPort 53
        $table = $steps | Format-Table | Out-String -Width 200
        $table | Should -Match 'Decision\s+Drop\s+no-ip-spoofing'
        $table | Should -Not -Match 'NwFilter\.Core'
        ($steps | Select-Object -Last 1 | Format-List | Out-String -Width 200) | Should -Match 'Rule\s+: <rule'
    }
}

Describe 'Trace-NwFilterPacket -Live' {
    BeforeAll {
        $script:Lab = New-NwFilterTestNamespace -Ports 1
        function script:TraceTables { ((& ip netns exec $Lab nft list tables) -join "`n") }
    }
    AfterAll { Remove-NwFilterTestNamespace $script:Lab }

    It 'leaves its table when killed, and the next trace removes it and its own' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
        $manifest = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter/NwFilter.psd1'))
        $exe = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $child = Start-Process -FilePath $exe -PassThru -ArgumentList ($pre + @('-NoProfile', '-NonInteractive', '-Command',
            "Import-Module '$manifest'; Trace-NwFilterPacket vnet0 -Live -TimeoutSec 120 | Out-Null"))
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ((TraceTables) -notmatch 'nwfilter-trace' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        TraceTables | Should -Match 'table bridge nwfilter-trace'
        # Kill the trace as an OOM kill or kill -9 would: no cleanup runs. Its nft monitor child goes too.
        $monitors = @(Get-Process | Where-Object { $_.Parent -and $_.Parent.Id -eq $child.Id })
        Stop-Process -Id $child.Id -Force
        $monitors | ForEach-Object { Stop-Process -Id $_.Id -Force -ErrorAction SilentlyContinue }
        $child.WaitForExit(10000) | Should -BeTrue
        TraceTables | Should -Match 'table bridge nwfilter-trace'

        Trace-NwFilterPacket vnet0 -Live -Count 1 -TimeoutSec 1 | Out-Null
        TraceTables | Should -Not -Match 'nwfilter-trace'
        TraceTables | Should -Match 'table bridge nwfilter'
        Remove-NwFilterBinding vnet0 -Confirm:$false
    }

    It 'refuses a -Live packet field that does not select packets, naming it, and leaves no trace table' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend Nftables -Confirm:$false
        Trace-NwFilterPacket vnet0 -Live -DestinationPort 22 -TimeoutSec 1 -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'TracePacketFieldInvalid,NwFilter.Commands.TraceNwFilterPacketCommand'
        $errs[0].Exception.Message | Should -Match 'DestinationPort'
        Trace-NwFilterPacket vnet0 -Live -ConnectionState New -TimeoutSec 1 -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].Exception.Message | Should -Match 'ConnectionState'
        TraceTables | Should -Not -Match 'nwfilter-trace'
        Remove-NwFilterBinding vnet0 -Confirm:$false
    }

    It 'traces an EbIpTables binding live (nft-based tools), leaves its libvirt rules as they were and no trace table' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend EbIpTables -Confirm:$false
        $before = Get-NwFilterTestSave $Lab
        Trace-NwFilterPacket vnet0 -Live -Count 1 -TimeoutSec 1 -ErrorVariable errs | Out-Null
        $errs | Should -BeNullOrEmpty
        TraceTables | Should -Not -Match 'nwfilter-trace'
        Get-NwFilterTestSave $Lab | Should -Be $before
        Remove-NwFilterBinding vnet0 -Confirm:$false
    }

    It 'leaves its table when killed on an EbIpTables binding, and the next trace removes it' -Skip:$NoKernel {
        Invoke-NwFilterBinding vnet0 52:54:00:00:00:10 clean-traffic -Parameter @{ IP = '10.1.0.10' } -Backend EbIpTables -Confirm:$false
        $manifest = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter/NwFilter.psd1'))
        $exe = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $child = Start-Process -FilePath $exe -PassThru -ArgumentList ($pre + @('-NoProfile', '-NonInteractive', '-Command',
            "Import-Module '$manifest'; Trace-NwFilterPacket vnet0 -Live -TimeoutSec 120 | Out-Null"))
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ((TraceTables) -notmatch 'nwfilter-trace' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        TraceTables | Should -Match 'table bridge nwfilter-trace'
        $monitors = @(Get-Process | Where-Object { $_.Parent -and $_.Parent.Id -eq $child.Id })
        Stop-Process -Id $child.Id -Force
        $monitors | ForEach-Object { Stop-Process -Id $_.Id -Force -ErrorAction SilentlyContinue }
        $child.WaitForExit(10000) | Should -BeTrue
        TraceTables | Should -Match 'table bridge nwfilter-trace'

        Trace-NwFilterPacket vnet0 -Live -Count 1 -TimeoutSec 1 | Out-Null
        TraceTables | Should -Not -Match 'nwfilter-trace'
        TraceTables | Should -Match 'table bridge nat'
        Remove-NwFilterBinding vnet0 -Confirm:$false
    }
}
