BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    Set-NwFilter -Xml "<filter name='web' chain='root'><filterref filter='clean-traffic'/></filter>" -Confirm:$false
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Export-NwFilterState' {
    It 'writes the state as JSON that reads back with the same StateHash' {
        $file = Join-Path $TestDrive 'host.state.json'
        Export-NwFilterState -Path $file
        $doc = Get-Content -Raw $file | ConvertFrom-Json
        $doc.stateHash | Should -Be (Get-NwFilterState).StateHash
        ($doc.filters | Where-Object name -EQ 'web').xml | Should -Match "<filter name='web'"
        (Test-NwFilterState -Path $file).InDesiredState | Should -BeTrue
    }

    It 'returns the JSON text without -Path' {
        (Export-NwFilterState | ConvertFrom-Json).stateHash | Should -Be (Get-NwFilterState).StateHash
    }

    It 'does not replace a file without -Force' {
        $file = Join-Path $TestDrive 'kept.json'
        Set-Content -LiteralPath $file -Value 'keep'
        Export-NwFilterState -Path $file -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -Be 'FileExists,NwFilter.Commands.ExportNwFilterStateCommand'
        Get-Content -LiteralPath $file | Should -Be 'keep'
        Export-NwFilterState -Path $file -Force
        (Get-Content -Raw $file | ConvertFrom-Json).stateHash | Should -Be (Get-NwFilterState).StateHash
    }
}
