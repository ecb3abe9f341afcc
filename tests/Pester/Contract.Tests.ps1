# The module as shipped (out/NwFilter): its manifest, its one version, and help for every exported cmdlet.
# With no cmdlets yet the per-cmdlet blocks produce no tests; the manifest and help-file tests always run.

BeforeDiscovery {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $module = Import-NwFilterModule
    $common = [System.Management.Automation.Cmdlet]::CommonParameters
    $cmdletCases = @(foreach ($cmd in $module.ExportedCmdlets.Values | Sort-Object Name) {
            @{
                Name       = $cmd.Name
                Parameters = @($cmd.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object)
            }
        })
}

BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $TestEnv = Initialize-NwFilterTestEnvironment
    $Module = $TestEnv.Module
    $ModuleBase = $Module.ModuleBase
    $Manifest = Import-PowerShellDataFile -LiteralPath (Join-Path $ModuleBase 'NwFilter.psd1')
    $SourceManifest = Import-PowerShellDataFile -LiteralPath (Join-Path $TestEnv.Root 'NwFilter.psd1')

    function Test-DynamicParameter([string] $CommandName, [object] $Element) {
        # StaticParameterBinder does not know dynamic parameters (New-NwFilterRule's protocol attributes): accept a
        # name only if the cmdlet declares it as a dynamic parameter for some protocol.
        if ($CommandName -ne 'New-NwFilterRule' -or $Element -isnot [System.Management.Automation.Language.CommandParameterAst]) { return $false }
        $known = [Enum]::GetNames([NwFilter.Core.Model.AttributeId]) + @([NwFilter.Core.Schema.ProtocolSchema]::ByElementName.Values.Attributes.Name)
        $Element.ParameterName -in $known
    }

    function Get-HelpText([object] $HelpObject, [string] $Property) {
        # The text of a help object's paragraphs; '' when the property is missing (help made without MAML).
        $value = $HelpObject.PSObject.Properties[$Property]
        if (-not $value -or -not $value.Value) { return '' }
        (@($value.Value | ForEach-Object { if ($_.PSObject.Properties['Text']) { $_.Text } else { "$_" } }) -join "`n").Trim()
    }
}

AfterAll {
    Remove-NwFilterTestEnvironment $TestEnv
}

Describe 'The module manifest' {
    It 'is imported from out/NwFilter' {
        $ModuleBase | Should -Be (Get-NwFilterModulePath)
        $Module.Path | Should -Be (Join-Path (Get-NwFilterModulePath) 'NwFilter.dll')
    }

    It 'has NwFilter.dll as its root module and is for PowerShell 7.4 Core' {
        $Manifest.RootModule | Should -Be 'NwFilter.dll'
        $Manifest.CompatiblePSEditions | Should -Be @('Core')
        $Manifest.PowerShellVersion | Should -Be '7.4'
    }

    It 'exports exactly the cmdlet classes found in NwFilter.dll' {
        $assembly = [Reflection.Assembly]::LoadFrom((Join-Path $ModuleBase 'NwFilter.dll'))
        $classes = @($assembly.GetExportedTypes() |
            Where-Object { $_.IsSubclassOf([System.Management.Automation.Cmdlet]) -and -not $_.IsAbstract } |
            ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { "$($_.VerbName)-$($_.NounName)" } | Sort-Object)
        @($Manifest.CmdletsToExport | Sort-Object) | Should -Be $classes
        @($Module.ExportedCmdlets.Keys | Sort-Object) | Should -Be $classes
    }

    It 'exports no functions, variables or aliases' {
        @($Manifest.FunctionsToExport) | Should -HaveCount 0
        @($Manifest.VariablesToExport) | Should -HaveCount 0
        @($Manifest.AliasesToExport) | Should -HaveCount 0
        $Module.ExportedFunctions.Count + $Module.ExportedVariables.Count + $Module.ExportedAliases.Count | Should -Be 0
    }

    It 'carries one version: Directory.Build.props, NwFilter.psd1 (source and laid out) and NwFilter.dll agree' {
        $props = [xml] (Get-Content -Raw -LiteralPath (Join-Path $TestEnv.Root 'Directory.Build.props'))
        $version = [version] $props.SelectSingleNode('/Project/PropertyGroup/VersionPrefix').InnerText.Trim()
        [version] $SourceManifest.ModuleVersion | Should -Be $version
        [version] $Manifest.ModuleVersion | Should -Be $version
        $Module.Version | Should -Be $version
        $dll = [Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModuleBase 'NwFilter.dll')).Version
        [version]::new($dll.Major, $dll.Minor, $dll.Build) | Should -Be $version
    }

    It 'differs from the source manifest only in its stamped version' {
        $versionLine = "(?m)^(\s*ModuleVersion\s*=\s*)'[^']*'"
        $laidOut = (Get-Content -Raw -LiteralPath (Join-Path $ModuleBase 'NwFilter.psd1')) -replace $versionLine, '$1'
        $source = (Get-Content -Raw -LiteralPath (Join-Path $TestEnv.Root 'NwFilter.psd1')) -replace $versionLine, '$1'
        $laidOut | Should -BeExactly $source
    }

    It 'ships its format file, its help files and no copy of System.Management.Automation' {
        $Manifest.FormatsToProcess | Should -Be @('NwFilter.Format.ps1xml')
        Join-Path $ModuleBase 'NwFilter.Format.ps1xml' | Should -Exist
        $Manifest.TypesToProcess | Should -Be @('NwFilter.Types.ps1xml')
        Join-Path $ModuleBase 'NwFilter.Types.ps1xml' | Should -Exist
        Join-Path $ModuleBase 'NwFilter.Core.dll' | Should -Exist
        Join-Path $ModuleBase 'en-US/about_NwFilter.help.txt' | Should -Exist
        Join-Path $ModuleBase 'en-US/NwFilter.dll-Help.xml' | Should -Exist
        Join-Path $ModuleBase 'System.Management.Automation.dll' | Should -Not -Exist
    }

    It 'has MAML help that is well-formed and covers every exported cmdlet' {
        $maml = [xml] (Get-Content -Raw -LiteralPath (Join-Path $ModuleBase 'en-US/NwFilter.dll-Help.xml'))
        $maml.DocumentElement.LocalName | Should -Be 'helpItems'
        $ns = [System.Xml.XmlNamespaceManager]::new($maml.NameTable)
        $ns.AddNamespace('command', 'http://schemas.microsoft.com/maml/dev/command/2004/10')
        $documented = @($maml.SelectNodes('//command:command/command:details/command:name', $ns) | ForEach-Object InnerText | Sort-Object)
        $documented | Should -Be @($Module.ExportedCmdlets.Keys | Sort-Object)
    }
}

Describe 'The about_NwFilter topic' {
    It 'is found by Get-Help about_NwFilter' {
        $text = Get-Help about_NwFilter | Out-String
        $text | Should -Match 'about_NwFilter'
        $text | Should -Match 'CTRL_IP_LEARNING'
        $text | Should -Match 'NWFILTER_CONFIG_DIR'
    }
}

Describe 'Help for <Name>' -ForEach $cmdletCases {
    BeforeAll {
        $Help = Get-Help -Name $Name -Full
    }

    It 'has a synopsis written for it' {
        # Without MAML, PowerShell makes the synopsis from the syntax; that does not count.
        $Help.Synopsis.Trim() | Should -Not -BeNullOrEmpty
        $Help.Synopsis.Trim() | Should -Not -BeLike "$Name *"
    }

    It 'has a description' {
        Get-HelpText $Help 'description' | Should -Not -BeNullOrEmpty -Because 'the class needs <remarks>'
    }

    It 'describes -<_>' -ForEach $Parameters {
        $name = $_
        $parameter = @($Help.parameters.parameter | Where-Object name -EQ $name)
        $parameter | Should -HaveCount 1 -Because "Get-Help should list -$name"
        Get-HelpText $parameter[0] 'description' | Should -Not -BeNullOrEmpty -Because "-$name needs a <summary>"
    }

    It 'has at least two examples, each with code and remarks' {
        $examples = @(if ($Help.PSObject.Properties['examples'] -and $Help.examples) { $Help.examples.example })
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            Get-HelpText $example 'code' | Should -Not -BeNullOrEmpty
            Get-HelpText $example 'remarks' | Should -Not -BeNullOrEmpty
        }
    }

    It 'has examples that parse and call NwFilter cmdlets only with parameters they have' {
        $examples = @(if ($Help.PSObject.Properties['examples'] -and $Help.examples) { $Help.examples.example })
        $callsItself = $false
        foreach ($example in $examples) {
            $code = Get-HelpText $example 'code'
            $tokens = $null; $parseErrors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($code, [ref] $tokens, [ref] $parseErrors)
            $parseErrors | Should -BeNullOrEmpty -Because "example code '$code' must parse"
            $calls = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] }, $true)
            foreach ($call in $calls) {
                $commandName = $call.GetCommandName()
                if (-not $commandName -or -not $Module.ExportedCmdlets.ContainsKey($commandName)) { continue }
                $callsItself = $callsItself -or $commandName -eq $Name
                $binding = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($call, $true)
                $unknown = @($binding.BindingExceptions.Values | Where-Object { $_.BindingException.ErrorId -ne 'NamedParameterNotFound' -or -not (Test-DynamicParameter $commandName $_.CommandElement) })
                $unknown | ForEach-Object { "$($_.BindingException.Message)" } | Should -BeNullOrEmpty -Because "in '$code'"
            }
        }
        $callsItself | Should -BeTrue -Because 'at least one example shows the cmdlet itself'
    }
}

