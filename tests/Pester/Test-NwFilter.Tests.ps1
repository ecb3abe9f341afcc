BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Test-NwFilter' {
    BeforeAll {
        Set-NwFilter -Name good -FilterRef clean-traffic
        Set-NwFilter -Name top -FilterRef middle -WarningAction SilentlyContinue
        Set-NwFilter -Name middle -FilterRef missing-leaf -WarningAction SilentlyContinue
    }

    It 'finds every built-in filter valid' {
        $results = @(Test-NwFilter 'allow-*', 'clean-*', 'no-*', 'qemu-*')
        $results.Count | Should -Be 24
        @($results | Where-Object { -not $_.IsValid }).Count | Should -Be 0
    }

    It 'returns a FilterTestResult per filter' {
        $r = Test-NwFilter good
        $r | Should -BeOfType ([NwFilter.Commands.Output.FilterTestResult])
        $r.IsValid | Should -BeTrue
        $r.Problems.Length | Should -Be 0
    }

    It 'checks the whole reference tree: a missing filter two levels down is an error' {
        $r = Test-NwFilter top
        $r.IsValid | Should -BeFalse
        $r.Problems[0].Code | Should -Be 'FilterNotFound'
        $r.Problems[0].Filter | Should -Be 'middle'
        $r.Problems[0].Value | Should -Be 'missing-leaf'
    }

    It 'reports every problem of a document at once, with its place' {
        $xml = @"
<filter name='bad' chain='nochain'>
  <rule action='accept' direction='sideways'/>
  <rule action='accept' direction='in'><tcp dstportstart='99999'/></rule>
</filter>
"@
        $r = Test-NwFilter -Xml $xml
        $r.IsValid | Should -BeFalse
        $r.ErrorCount | Should -BeGreaterOrEqual 3
        @($r.Problems | Where-Object Line).Count | Should -Be $r.Problems.Length
    }

    It 'reports what Set-NwFilter would refuse: a uuid of another filter, a loop' {
        $uuid = (Get-NwFilter good).Uuid
        (Test-NwFilter -Xml "<filter name='thief'><uuid>$uuid</uuid></filter>").Problems.Code | Should -Be 'UuidInUse'
        (Test-NwFilter -Xml "<filter name='middle'><filterref filter='top'/></filter>").Problems.Code | Should -Contain 'FilterLoop'
    }

    It 'tests files and objects, and stays silent on the error stream' {
        $file = Join-Path $TestEnv.TempDir 'two.xml'
        Set-Content -LiteralPath $file -Value "<filter name='f1'/>`n<filter name='f2'><filterref filter='nope'/></filter>"
        $results = @(Test-NwFilter -Path $file -ErrorVariable errs)
        $errs.Count | Should -Be 0
        $results.Name | Should -Be @('f1', 'f2')
        $results.IsValid | Should -Be @($true, $false)
        (ConvertFrom-NwFilterXml -Xml "<filter name='o'/>" | Test-NwFilter).IsValid | Should -BeTrue
    }

    It 'returns booleans with -Quiet' {
        Test-NwFilter good -Quiet | Should -BeTrue
        Test-NwFilter top -Quiet | Should -BeFalse
    }

    It 'writes FilterNotFound for an unknown stored filter' {
        { Test-NwFilter nope -ErrorAction Stop } | Should -Throw -ErrorId 'FilterNotFound,NwFilter.Commands.TestNwFilterCommand'
    }

    It 'reports an unreadable stored file as a failed result' {
        Set-Content -LiteralPath (Join-Path $TestEnv.ConfigDir 'broken.xml') -Value "<filter name='broken'"
        try { (Test-NwFilter broken).IsValid | Should -BeFalse }
        finally { Remove-Item -LiteralPath (Join-Path $TestEnv.ConfigDir 'broken.xml') }
    }
}
