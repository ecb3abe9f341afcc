BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Web = "<filter name='web' chain='root'><filterref filter='clean-traffic'/><rule action='accept' direction='in' priority='500'><tcp dstportstart='22'/></rule></filter>"
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Get-NwFilterState' {
    It 'lists every filter by hash, a defined one with its XML without the UUID, and a StateHash' {
        Set-NwFilter -Xml $Web -Confirm:$false
        $state = Get-NwFilterState
        $state.StateHash | Should -Match '^[0-9a-f]{64}$'
        $web = $state.Filters | Where-Object Name -EQ 'web'
        $web.Origin | Should -Be 'Defined'
        $web.Xml | Should -Not -Match 'uuid'
        $web.References | Should -Be @('clean-traffic')
        $builtIn = $state.Filters | Where-Object Name -EQ 'clean-traffic'
        $builtIn.Origin | Should -Be 'BuiltIn'
        $builtIn.Xml | Should -BeNullOrEmpty
        $builtIn.Hash | Should -Match '^[0-9a-f]{64}$'
    }

    It 'gives the same hashes for the same filter defined with another UUID (as on another host)' {
        $first = Get-NwFilterState
        Remove-NwFilter web -Confirm:$false
        Set-NwFilter -Xml ($Web -replace "chain='root'>", "chain='root'><uuid>7d1c2a7e-1111-4a43-8d32-6a8f0c1f2b10</uuid>") -Confirm:$false
        (Get-NwFilter web).Uuid | Should -Be '7d1c2a7e-1111-4a43-8d32-6a8f0c1f2b10'
        $second = Get-NwFilterState
        $second.StateHash | Should -Be $first.StateHash
        ($second.Filters | Where-Object Name -EQ 'web').Hash | Should -Be ($first.Filters | Where-Object Name -EQ 'web').Hash
    }

    It 'changes its StateHash when a filter changes' {
        $before = (Get-NwFilterState).StateHash
        Set-NwFilter -Xml ($Web -replace "'22'", "'2222'") -Confirm:$false
        (Get-NwFilterState).StateHash | Should -Not -Be $before
    }

    It 'keeps its properties after remoting serialization' {
        $state = Get-NwFilterState
        $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($state, 6))
        $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.NwFilter.Core.DesiredState.NwFilterState'
        $copy.StateHash | Should -Be $state.StateHash
        ($copy.Filters | Where-Object Name -EQ 'web').Hash | Should -Be ($state.Filters | Where-Object Name -EQ 'web').Hash
    }
}
