BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    Set-NwFilter -Name web -FilterRef clean-traffic -Rule (New-NwFilterRule accept in tcp -DstPortStart 80)
    Set-NwFilter -Name db -FilterRef clean-traffic -Rule (New-NwFilterRule accept in tcp -DstPortStart 5432)
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Export-NwFilter' {
    It 'writes one NAME.xml per filter with its canonical XML' {
        $dest = Join-Path $TestEnv.TempDir 'all'
        $files = Export-NwFilter -Destination $dest -PassThru
        $files.Count | Should -Be 32   # 2 defined here, libvirt's 24 built-ins and our 6 (nwfilter-*)
        Get-Content -Raw (Join-Path $dest 'web.xml') | Should -Be (Get-NwFilter web -AsXml)
        Get-Content -Raw (Join-Path $dest 'clean-traffic.xml') | Should -Be (Get-NwFilter clean-traffic -AsXml)
    }

    It 'leaves built-ins out with -ExcludeBuiltIn, and takes names with wildcards' {
        $dest = Join-Path $TestEnv.TempDir 'mine'
        (Export-NwFilter -Destination $dest -ExcludeBuiltIn -PassThru).Name | Should -Be @('db.xml', 'web.xml')
        (Export-NwFilter 'w*' -Destination (Join-Path $TestEnv.TempDir 'w') -PassThru).Name | Should -Be 'web.xml'
    }

    It 'round-trips through Import-NwFilter' {
        $dest = Join-Path $TestEnv.TempDir 'round'
        Get-NwFilter web, db | Export-NwFilter -Destination $dest
        Remove-NwFilter web, db
        Import-NwFilter -Path $dest
        (Get-NwFilter web -AsXml) | Should -Be (Get-Content -Raw (Join-Path $dest 'web.xml'))
    }

    It 'does not overwrite other content without -Force' {
        $dest = Join-Path $TestEnv.TempDir 'force'
        New-Item -ItemType Directory $dest | Out-Null
        Set-Content (Join-Path $dest 'web.xml') 'old'
        { Export-NwFilter web -Destination $dest -ErrorAction Stop } | Should -Throw -ErrorId 'FileExists,NwFilter.Commands.ExportNwFilterCommand'
        Export-NwFilter web -Destination $dest -Force
        Get-Content -Raw (Join-Path $dest 'web.xml') | Should -Be (Get-NwFilter web -AsXml)
    }

    It 'writes FilterNotFound for an unknown name' {
        { Export-NwFilter nope -Destination (Join-Path $TestEnv.TempDir 'x') -ErrorAction Stop } | Should -Throw -ErrorId 'FilterNotFound,NwFilter.Commands.ExportNwFilterCommand'
    }

    It 'writes nothing with -WhatIf' {
        $dest = Join-Path $TestEnv.TempDir 'whatif'
        Export-NwFilter web -Destination $dest -WhatIf
        Test-Path (Join-Path $dest 'web.xml') | Should -BeFalse
    }
}
