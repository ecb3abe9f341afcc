BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:NoDot = -not (Test-NwFilterResource tools ([bool] (Get-Command dot -CommandType Application -ErrorAction SilentlyContinue)) 'graphviz (dot) is not installed')
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Export-NwFilterGraph' {
    It 'writes clean-traffic''s tree as DOT with rule counts and variables' {
        $dot = Export-NwFilterGraph clean-traffic
        $dot | Should -BeLike 'digraph "clean-traffic" {*'
        $dot | Should -Match '"f:clean-traffic" -> "f:no-mac-spoofing";'
        $dot | Should -Match 'no-ip-spoofing\\nchain ipv4-ip, priority -710\\n\d+ rules\\nuses \$IP'
    }

    It 'writes Mermaid' {
        $m = Export-NwFilterGraph clean-traffic -Format Mermaid
        $m | Should -BeLike 'flowchart LR*'
        $m | Should -Match 'n0\["clean-traffic<br/>chain root'
    }

    It 'renders with dot when graphviz is present' -Skip:$NoDot {
        $svg = Export-NwFilterGraph clean-traffic | dot -Tsvg
        $LASTEXITCODE | Should -Be 0
        ($svg -join "`n") | Should -Match '<svg'
    }

    It 'reports an unknown filter' {
        Export-NwFilterGraph no-such-filter -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterNotFound,NwFilter.Commands.ExportNwFilterGraphCommand'
    }
}
