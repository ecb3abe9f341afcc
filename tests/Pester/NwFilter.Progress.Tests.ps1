# Bulk work shows Write-Progress: the runtime's progress channel, as PowerShell records it (a runspace's Progress stream).
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoKernel = -not (Test-NwFilterKernelTests)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Lab = New-NwFilterTestNamespace -Ports 4

    # Runs a script in a new runspace of this process (same environment: store and namespace) and returns its progress records.
    function script:Get-ProgressOf([string] $Script) {
        $ps = [powershell]::Create()
        try {
            [void] $ps.AddScript("Import-Module '$(Join-Path (Get-NwFilterModulePath) 'NwFilter.psd1')'; `$ProgressPreference = 'Continue'; $Script")
            [void] $ps.Invoke()
            $ps.Streams.Error | ForEach-Object { throw "$_" }
            @($ps.Streams.Progress)
        }
        finally { $ps.Dispose() }
    }
}
AfterAll {
    Remove-NwFilterTestNamespace $script:Lab
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Write-Progress for bulk work' {
    It 'shows each binding of a bulk apply, a live update of the filter they use, and the removal, and completes each bar' -Skip:$NoKernel {
        Set-NwFilter -Name web -Rule (New-NwFilterRule accept in tcp -DstPortStart 22)
        $apply = Get-ProgressOf (@(0..3 | ForEach-Object {
                    "[pscustomobject]@{ PortDevice = 'vnet$_'; MacAddress = '52:54:00:00:00:1$_'; Filter = 'web'; Parameter = @{ IP = '10.1.0.1$_' } }"
                }) -join ', ' | ForEach-Object { "@($_) | Invoke-NwFilterBinding -Backend EbIpTables -Confirm:`$false" })
        $bar = @($apply | Where-Object Activity -like 'Applying network filter bindings*')
        $bar.StatusDescription | Should -Contain 'Compiling vnet0 (1 of 4)'
        $bar.StatusDescription | Should -Contain 'Compiling vnet3 (4 of 4)'
        $bar[-1].RecordType | Should -Be 'Completed'
        (Get-NwFilterBinding).Count | Should -Be 4

        $update = Get-ProgressOf "Add-NwFilterRule web (New-NwFilterRule accept in tcp -DstPortStart 443) -Confirm:`$false 6>`$null"
        $bar = @($update | Where-Object Activity -like 'Re-applying network filter bindings in network namespace nwft-*')
        $bar.StatusDescription | Should -Contain 'Compiling vnet0 (1 of 4)'
        $bar.StatusDescription | Should -Contain 'Compiling vnet3 (4 of 4)'
        $bar[-1].RecordType | Should -Be 'Completed'

        $remove = Get-ProgressOf "Remove-NwFilterBinding vnet0, vnet1, vnet2, vnet3 -Confirm:`$false"
        $bar = @($remove | Where-Object Activity -like 'Removing network filter bindings*')
        $bar.Count | Should -BeGreaterThan 1
        $bar[-1].RecordType | Should -Be 'Completed'
        Get-NwFilterBinding -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
