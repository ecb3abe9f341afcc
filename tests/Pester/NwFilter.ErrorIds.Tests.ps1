# One error id per kind of problem, whichever cmdlet meets it (issue 16): the same id and the same words.
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    # The first error record a command writes (its warnings and output dropped).
    function script:FirstError([string] $Cmdlet, [string] $Xml) {
        $errs = $null
        & $Cmdlet -Xml $Xml -ErrorVariable errs -ErrorAction SilentlyContinue 3>$null | Out-Null
        @($errs)[0]
    }
}
AfterAll {
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Error ids across cmdlets' {
    Context 'malformed XML text is MalformedXml for <Cmdlet> (<Case>)' -ForEach @(
        foreach ($cmdlet in 'ConvertFrom-NwFilterXml', 'Set-NwFilter', 'Import-NwFilter') {
            @{ Cmdlet = $cmdlet; Case = 'cut short'; Xml = '<filter' }
            @{ Cmdlet = $cmdlet; Case = 'text after the document'; Xml = "<filter name='a'/> junk" }
            @{ Cmdlet = $cmdlet; Case = 'mismatched end tag'; Xml = "<filter name='a'>`n  <rule action='accept' direction='in'>`n  </rul>`n</filter>" }
        }
    ) {
        AfterEach { Remove-NwFilter a -Confirm:$false -ErrorAction SilentlyContinue }

        It 'has the id MalformedXml' {
            $e = FirstError $Cmdlet $Xml
            $e.FullyQualifiedErrorId | Should -BeLike 'MalformedXml,NwFilter.Commands.*'
            $e.CategoryInfo.Category | Should -Be 'InvalidData'
            # Set-NwFilter defines the documents of a text all or none; Import-NwFilter imports the good ones (by design).
            if ($Cmdlet -eq 'Set-NwFilter') { Get-NwFilter a -ErrorAction SilentlyContinue | Should -BeNullOrEmpty }
        }
    }

    It 'says what end tag was expected and where both tags are' {
        $xml = "<filter name='a'>`n  <rule action='accept' direction='in'>`n  </rul>`n</filter>"
        $set = FirstError Set-NwFilter $xml
        "$set" | Should -Be 'XML:3:5: Malformed XML: the end tag </rul> does not close <rule> (line 2, column 4); expected </rule>.'
        $convert = FirstError ConvertFrom-NwFilterXml $xml
        "$convert" | Should -BeLike '*Malformed XML: the end tag </rul> does not close <rule> (line 2, column 4); expected </rule>.'
    }

    Context 'a filter that does not exist is FilterNotFound, "No filter named", for <Cmdlet>' -ForEach @(
        @{ Cmdlet = 'Get-NwFilter'; Run = { Get-NwFilter nosuch -ErrorVariable ev -ErrorAction SilentlyContinue; $ev } }
        @{ Cmdlet = 'Remove-NwFilter'; Run = { Remove-NwFilter nosuch -Confirm:$false -ErrorVariable ev -ErrorAction SilentlyContinue; $ev } }
        @{ Cmdlet = 'Edit-NwFilter'; Run = { Edit-NwFilter nosuch -Confirm:$false -ErrorVariable ev -ErrorAction SilentlyContinue; $ev } }
        @{ Cmdlet = 'Build-NwFilterRuleset'; Run = { Build-NwFilterRuleset -Filter nosuch -PortDevice vnet0 -MacAddress 52:54:00:00:00:01 -ErrorVariable ev -ErrorAction SilentlyContinue; $ev } }
        @{ Cmdlet = 'Add-NwFilterRule'; Run = { Add-NwFilterRule nosuch (New-NwFilterRule accept in all) -Confirm:$false -ErrorVariable ev -ErrorAction SilentlyContinue; $ev } }
        @{ Cmdlet = 'Remove-NwFilterRule'; Run = { Remove-NwFilterRule nosuch -Priority 1 -Confirm:$false -ErrorVariable ev -ErrorAction SilentlyContinue; $ev } }
    ) {
        It 'has the id FilterNotFound, the category ObjectNotFound and one wording' {
            $ev = $null
            $e = @(& $Run | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })[0]
            $e.FullyQualifiedErrorId | Should -BeLike 'FilterNotFound,NwFilter.Commands.*'
            $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            "$e" | Should -Be "No filter named 'nosuch'."
        }
    }
}
