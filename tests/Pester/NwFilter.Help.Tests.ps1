# Help that reads well (issue 16): short paragraphs, related links between sibling cmdlets, deep material in about_ topics.
BeforeDiscovery {
    # The cmdlets' names, from the laid-out module's manifest (the module is imported in BeforeAll).
    $manifest = Import-PowerShellDataFile (Join-Path $PSScriptRoot '../../out/NwFilter/NwFilter.psd1')
    $script:CmdletNames = @($manifest.CmdletsToExport)
}
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    function script:LinksOf([string] $Name) { @((Get-Help $Name -Full).relatedLinks.navigationLink | ForEach-Object { $_.linkText }) }
}
AfterAll {
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Cmdlet help' {
    It 'links each binding cmdlet to its four siblings: <Name>' -ForEach @(
        foreach ($n in 'Invoke-NwFilterBinding', 'Get-NwFilterBinding', 'Test-NwFilterBinding', 'Restore-NwFilterBinding', 'Remove-NwFilterBinding') { @{ Name = $n } }
    ) {
        $siblings = @('Invoke-NwFilterBinding', 'Get-NwFilterBinding', 'Test-NwFilterBinding', 'Restore-NwFilterBinding', 'Remove-NwFilterBinding') | Where-Object { $_ -ne $Name }
        $links = LinksOf $Name
        foreach ($s in $siblings) { $links | Should -Contain $s }
    }

    It 'links the rule cmdlets to each other' {
        LinksOf Add-NwFilterRule | Should -Contain 'Remove-NwFilterRule'
        LinksOf Remove-NwFilterRule | Should -Contain 'Add-NwFilterRule'
    }

    It 'cuts the description of <Name> into paragraphs of at most 1000 characters' -ForEach @(
        foreach ($n in $CmdletNames) { @{ Name = $n } }
    ) {
        $paragraphs = @((Get-Help $Name -Full).description | ForEach-Object { $_.Text })
        if (($paragraphs -join '').Length -gt 500) { $paragraphs.Count | Should -BeGreaterThan 1 }
        $paragraphs | ForEach-Object { $_.Length | Should -BeLessOrEqual 1000 -Because "a paragraph of $Name's description starts '$($_.Substring(0, [Math]::Min(60, $_.Length)))'" }
    }
}

Describe 'about topics' {
    It 'has about_NwFilter_Bindings, with the checks before any change and the plan summary' {
        $text = Get-Help about_NwFilter_Bindings | Out-String
        $text | Should -Match 'NetworkNamespaceNotFound'
        $text | Should -Match 'PortDeviceNotFound'
        $text | Should -Match 'FirewallNeedsRoot'
        $text | Should -Match '# Summary: bridge: '
        $text | Should -Match 'Re-applied 3 bindings: vnet0, vnet1, vnet7\.'
    }

    It 'has about_NwFilter_Learning, with the modes and the learning jobs' {
        $text = Get-Help about_NwFilter_Learning | Out-String
        $text | Should -Match 'CTRL_IP_LEARNING'
        $text | Should -Match 'NwFilterLearningJob'
        $text | Should -Match 'Restore-NwFilterBinding -Wait'
    }

    It 'names both from about_NwFilter' {
        $text = Get-Help about_NwFilter | Out-String
        $text | Should -Match 'about_NwFilter_Bindings'
        $text | Should -Match 'about_NwFilter_Learning'
    }
}
