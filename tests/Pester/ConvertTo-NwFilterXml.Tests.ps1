Set-StrictMode -Version Latest

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Env = Initialize-NwFilterTestEnvironment
    $script:Data = Join-Path $Env.Root 'tests/data/xml'
}
AfterAll { Remove-NwFilterTestEnvironment $script:Env }

Describe 'ConvertTo-NwFilterXml' {
    It 'writes <Name> in canonical form' -ForEach @(
        Get-ChildItem (Join-Path (Join-Path $PSScriptRoot '../data/xml') 'filters') -Filter '*.xml' |
            Where-Object Name -notlike '*.out.xml' | ForEach-Object { @{ Name = $_.BaseName; Path = $_.FullName } }
    ) {
        $expected = [IO.File]::ReadAllText(($Path -replace '\.xml$', '.out.xml'))
        ConvertFrom-NwFilterXml -LiteralPath $Path | ConvertTo-NwFilterXml | Should -BeExactly $expected
    }

    It 'round-trips a binding byte for byte' {
        $path = Join-Path $Data 'bindings/linkdev.out.xml'
        ConvertFrom-NwFilterXml -LiteralPath $path | ConvertTo-NwFilterXml | Should -BeExactly ([IO.File]::ReadAllText($path))
    }

    It 'prints masks as prefix lengths and the default rule priority' {
        $xml = "<filter name='f'><rule action='drop' direction='out'><ip srcipaddr='10.0.0.1' srcipmask='255.255.255.0'/></rule></filter>"
        $out = ConvertFrom-NwFilterXml -Xml $xml | ConvertTo-NwFilterXml
        $out | Should -Match "<rule action='drop' direction='out' priority='500'>"
        $out | Should -Match "srcipmask='24'"
    }

    It 'refuses an object that is neither a filter nor a binding' {
        $r = 42 | ConvertTo-NwFilterXml -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'UnsupportedInputType,NwFilter.Commands.ConvertToNwFilterXmlCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $errs[0].TargetObject | Should -Be 42
    }
}
