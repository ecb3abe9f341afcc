<#
.SYNOPSIS
    Writes MAML help (<RootModule dll>-Help.xml) for the cmdlets of a binary module, from its XML doc comments.

.DESCRIPTION
    Imports the module at -ModulePath, takes each cmdlet's syntax from Get-Command (parameter sets, mandatory,
    position, pipeline input, aliases, [SupportsWildcards], [OutputType]) and its text from the compiler's XML
    documentation files (<name>.xml beside each <name>.dll in the module's folder):

      class  <summary>                      synopsis
      class  <remarks>                      description (<para> per paragraph)
      class  <example title="...">          one example: <code> is the code, each <para> a remark; two at least
      class  <seealso cref="..."/>          related link (a cmdlet class becomes its cmdlet name)
      parameter property/field <summary>    the parameter's description
      output type <summary>                 the description of that return value

    A cmdlet without a synopsis, a description, two examples or a described parameter is an error; every such
    problem is reported at once, each naming the cmdlet. Run it in a child process: the module stays loaded.

.EXAMPLE
    pwsh -NoProfile -File tools/New-MamlHelp.ps1 -ModulePath src/NwFilter/bin/Release/net8.0/NwFilter.dll -OutputPath out/help/NwFilter.dll-Help.xml -RelatedLink about_NwFilter
#>
[CmdletBinding()]
param(
    # The module to document: its root .dll (or a .psd1 whose root module is the .dll).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # The MAML file to write.
    [Parameter(Mandatory)]
    [string] $OutputPath,

    # Links added to every command's related links, such as an about_ topic.
    [string[]] $RelatedLink = @()
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ns = @{
    msh     = 'http://msh'
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
    MSHelp  = 'http://msdn.microsoft.com/mshelp'
}

$optionalCommonText = @{
    WhatIf  = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    Confirm = 'Prompts you for confirmation before running the cmdlet.'
}

#region Doc comments -> text

function Read-DocMember([string] $Directory) {
    # member name ("T:Ns.Type", "P:Ns.Type.Prop") -> XmlElement, over every <doc> file in the module's folder.
    # Ordinal: doc ids are case-sensitive, as C# is.
    $members = [System.Collections.Generic.Dictionary[string, System.Xml.XmlElement]]::new([StringComparer]::Ordinal)
    foreach ($file in Get-ChildItem -LiteralPath $Directory -Filter *.xml -File) {
        $doc = [xml]::new()
        $doc.PreserveWhitespace = $true
        $doc.Load($file.FullName)
        if ($doc.DocumentElement.LocalName -ne 'doc') { continue }
        foreach ($m in $doc.SelectNodes('/doc/members/member')) { $members[$m.GetAttribute('name')] = $m }
    }
    , $members
}

function Get-DocId([char] $Kind, [type] $Type, [string] $Member) {
    $id = "${Kind}:" + $Type.FullName.Replace('+', '.')
    if ($Member) { $id += ".$Member" }
    $id
}

function Get-CrefText([string] $Cref) {
    # A cmdlet class becomes its cmdlet name ("Get-Foo"), a parameter of one "-Name"; anything else its last name.
    if ($script:cmdletByTypeId.ContainsKey($Cref)) { return $script:cmdletByTypeId[$Cref] }
    if ($Cref -match '^[PF]:(?<type>.+)\.(?<member>[^.]+)$' -and $script:cmdletByTypeId.ContainsKey("T:$($Matches.type)")) {
        return "-$($Matches.member)"
    }
    ($Cref -replace '^[A-Z]:', '' -replace '\(.*$', '').Split('.')[-1]
}

function ConvertTo-NodeText([System.Xml.XmlNode] $Node) {
    # One node as running text: <see cref/langword/href> is rendered, other elements (<c>, <b>) give their text.
    if ($Node.NodeType -ne 'Element') { return $(if ($Node.NodeType -eq 'Comment') { '' } else { $Node.Value }) }
    switch ($Node.LocalName) {
        'see' {
            if ($Node.HasAttribute('cref')) { return Get-CrefText $Node.GetAttribute('cref') }
            if ($Node.HasAttribute('langword')) { return $Node.GetAttribute('langword') }
            $label = (ConvertTo-InlineText $Node).Trim()
            $href = $Node.GetAttribute('href')
            if ($label -and $href) { return "$label ($href)" }
            return "$label$href"
        }
        default { return ConvertTo-InlineText $Node }
    }
}

function ConvertTo-InlineText([System.Xml.XmlNode] $Node) {
    if ($null -eq $Node) { return '' }
    -join @($Node.ChildNodes | ForEach-Object { ConvertTo-NodeText $_ })
}

function Compress-Space([string] $Text) { ($Text -replace '\s+', ' ').Trim() }

function ConvertTo-Paragraph([System.Xml.XmlNode] $Node, [switch] $SkipCode) {
    # <para>, list items and <code> become paragraphs of their own; loose text between them is a paragraph too.
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    if ($null -eq $Node) { return , $paragraphs.ToArray() }
    $loose = [System.Text.StringBuilder]::new()
    $add = { param([string] $Text) $t = Compress-Space $Text; if ($t) { $paragraphs.Add($t) } }
    # Loose text: a blank /// line ends a paragraph (help shows short paragraphs, not one block).
    $addLoose = { param([string] $Text) foreach ($part in ($Text -split '\r?\n[ \t]*\r?\n')) { & $add $part } }
    foreach ($child in $Node.ChildNodes) {
        $name = if ($child.NodeType -eq 'Element') { $child.LocalName } else { '' }
        if ($name -notin 'para', 'list', 'code') { [void] $loose.Append((ConvertTo-NodeText $child)); continue }
        & $addLoose $loose.ToString(); [void] $loose.Clear()
        switch ($name) {
            'para' { & $add (ConvertTo-InlineText $child) }
            'code' { if (-not $SkipCode) { $t = ConvertTo-CodeText $child; if ($t) { $paragraphs.Add($t) } } }
            'list' {
                foreach ($item in $child.SelectNodes('item')) {
                    $term = $item.SelectSingleNode('term')
                    $desc = $item.SelectSingleNode('description')
                    $t = if ($term -and $desc) { "$(Compress-Space (ConvertTo-InlineText $term)): $(ConvertTo-InlineText $desc)" }
                         elseif ($desc) { ConvertTo-InlineText $desc }
                         else { ConvertTo-InlineText $item }
                    & $add "- $t"
                }
            }
        }
    }
    & $addLoose $loose.ToString()
    , $paragraphs.ToArray()
}

function ConvertTo-CodeText([System.Xml.XmlNode] $Node) {
    # Code keeps its lines; the indentation the doc file adds is removed, as are blank first and last lines.
    $lines = [System.Collections.Generic.List[string]]((ConvertTo-InlineText $Node) -replace "`r", '' -split "`n")
    while ($lines.Count -and -not $lines[0].Trim()) { $lines.RemoveAt(0) }
    while ($lines.Count -and -not $lines[$lines.Count - 1].Trim()) { $lines.RemoveAt($lines.Count - 1) }
    if (-not $lines.Count) { return '' }
    $indent = ($lines | Where-Object { $_.Trim() } | ForEach-Object { $_.Length - $_.TrimStart().Length } |
        Measure-Object -Minimum).Minimum
    ($lines | ForEach-Object { if ($_.Length -ge $indent) { $_.Substring($indent).TrimEnd() } else { $_.Trim() } }) -join "`n"
}

#endregion

#region Cmdlet metadata

function Format-TypeName([type] $Type, [switch] $Full) {
    if ($Type.IsArray) { return (Format-TypeName $Type.GetElementType() -Full:$Full) + '[]' }
    $name = if ($Full) { $Type.FullName } else { $Type.Name }
    if (-not $name) { $name = $Type.Name }
    if ($Type.IsGenericType) {
        $name = $name.Substring(0, $name.IndexOf('`'))
        $args_ = $Type.GetGenericArguments() | ForEach-Object { Format-TypeName $_ -Full:$Full }
        $name = "$name[$($args_ -join ',')]"
    }
    $name
}

function Get-PipelineText([object[]] $Parameters) {
    $kinds = @()
    if ($Parameters.Where({ $_.ValueFromPipeline })) { $kinds += 'ByValue' }
    if ($Parameters.Where({ $_.ValueFromPipelineByPropertyName })) { $kinds += 'ByPropertyName' }
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

function Get-PositionText([object[]] $Parameters) {
    $positions = @($Parameters | ForEach-Object Position | Sort-Object -Unique)
    if ($positions.Count -eq 1 -and $positions[0] -ge 0) { "$($positions[0])" } else { 'named' }
}

function Get-MemberDocId([System.Management.Automation.CmdletInfo] $Cmdlet, [string] $Name) {
    $flags = [System.Reflection.BindingFlags]'Public, Instance, FlattenHierarchy'
    $member = $Cmdlet.ImplementingType.GetMember($Name, [System.Reflection.MemberTypes]'Property, Field', $flags) |
        Select-Object -First 1
    if (-not $member) { return $null }
    $kind = if ($member.MemberType -eq 'Field') { 'F' } else { 'P' }
    Get-DocId $kind $member.DeclaringType $member.Name
}

#endregion

#region MAML writer

function Write-Para([System.Xml.XmlWriter] $W, [string[]] $Paragraphs) {
    $W.WriteStartElement('maml', 'description', $ns.maml)
    if (-not $Paragraphs) { $W.WriteElementString('maml', 'para', $ns.maml, '') }
    foreach ($p in $Paragraphs) { $W.WriteElementString('maml', 'para', $ns.maml, $p) }
    $W.WriteEndElement()
}

function Write-Type([System.Xml.XmlWriter] $W, [string] $Name) {
    $W.WriteStartElement('dev', 'type', $ns.dev)
    $W.WriteElementString('maml', 'name', $ns.maml, $Name)
    $W.WriteEndElement()
}

function Write-Parameter([System.Xml.XmlWriter] $W, $Info) {
    # $Info: Name, Required, Position, Pipeline, Globbing, Aliases, Type (System.Type), Description (string[])
    $isSwitch = $Info.Type -eq [System.Management.Automation.SwitchParameter]
    $W.WriteStartElement('command', 'parameter', $ns.command)
    $W.WriteAttributeString('required', $Info.Required.ToString().ToLowerInvariant())
    $W.WriteAttributeString('variableLength', $Info.Type.IsArray.ToString().ToLowerInvariant())
    $W.WriteAttributeString('globbing', $Info.Globbing.ToString().ToLowerInvariant())
    $W.WriteAttributeString('pipelineInput', $Info.Pipeline)
    $W.WriteAttributeString('position', $Info.Position)
    $W.WriteAttributeString('aliases', $(if ($Info.Aliases) { $Info.Aliases -join ', ' } else { 'none' }))
    $W.WriteElementString('maml', 'name', $ns.maml, $Info.Name)
    Write-Para $W $Info.Description
    if (-not $isSwitch) {
        $W.WriteStartElement('command', 'parameterValue', $ns.command)
        $W.WriteAttributeString('required', 'true')
        $W.WriteAttributeString('variableLength', $Info.Type.IsArray.ToString().ToLowerInvariant())
        $W.WriteString((Format-TypeName $Info.Type))
        $W.WriteEndElement()
    }
    Write-Type $W (Format-TypeName $Info.Type -Full)
    $W.WriteElementString('dev', 'defaultValue', $ns.dev, $(if ($isSwitch) { 'False' } else { 'None' }))
    $W.WriteEndElement()
}

#endregion

$module = Import-Module -Name (Resolve-Path -LiteralPath $ModulePath).ProviderPath -PassThru -Force
$cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
$docs = Read-DocMember $module.ModuleBase
$script:cmdletByTypeId = @{}
foreach ($c in $cmdlets) { $script:cmdletByTypeId[(Get-DocId 'T' $c.ImplementingType)] = $c.Name }
$common = [System.Management.Automation.Cmdlet]::CommonParameters

$problems = [System.Collections.Generic.List[string]]::new()
$helpItems = foreach ($cmdlet in $cmdlets) {
    $typeId = Get-DocId 'T' $cmdlet.ImplementingType
    $doc = $docs[$typeId]
    $synopsis = if ($doc) { Compress-Space (ConvertTo-InlineText $doc.SelectSingleNode('summary')) } else { '' }
    $description = if ($doc) { ConvertTo-Paragraph $doc.SelectSingleNode('remarks') } else { @() }
    $examples = @(if ($doc) {
            foreach ($e in $doc.SelectNodes('example')) {
                [pscustomobject]@{
                    Title   = Compress-Space $e.GetAttribute('title')
                    Code    = ConvertTo-CodeText $e.SelectSingleNode('code')
                    Remarks = ConvertTo-Paragraph $e -SkipCode
                }
            }
        })
    $links = @(if ($doc) {
            foreach ($s in $doc.SelectNodes('seealso')) {
                if ($s.HasAttribute('cref')) { [pscustomobject]@{ Text = Get-CrefText $s.GetAttribute('cref'); Uri = '' } }
                elseif ($s.HasAttribute('href')) {
                    $t = Compress-Space (ConvertTo-InlineText $s)
                    [pscustomobject]@{ Text = $(if ($t) { $t } else { $s.GetAttribute('href') }); Uri = $s.GetAttribute('href') }
                }
            }
        }) + @($RelatedLink | ForEach-Object { [pscustomobject]@{ Text = $_; Uri = '' } })

    $where = "$($cmdlet.Name) (class $($cmdlet.ImplementingType.FullName))"
    if (-not $doc) { $problems.Add("${where}: no XML doc comment on the class; add <summary>, <remarks> and two <example>s."); continue }
    if (-not $synopsis) { $problems.Add("${where}: no synopsis; add a <summary> to the class.") }
    if (-not $description) { $problems.Add("${where}: no description; add <remarks> to the class.") }
    if ($examples.Count -lt 2) { $problems.Add("${where}: $($examples.Count) example(s); add at least two <example><code>...</code><para>...</para></example>.") }
    foreach ($e in $examples) {
        if (-not $e.Code) { $problems.Add("${where}: an <example> has no <code>.") }
        if (-not $e.Remarks) { $problems.Add("${where}: an <example> has no <para> saying what it does.") }
    }

    # Parameters: every set's metadata, grouped by name; common parameters are documented by PowerShell itself.
    $sets = @($cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault }, Name)
    $byName = @{}
    foreach ($set in $sets) {
        foreach ($p in $set.Parameters) {
            if ($p.Name -in $common) { continue }
            if (-not $byName.ContainsKey($p.Name)) { $byName[$p.Name] = [System.Collections.Generic.List[object]]::new() }
            $byName[$p.Name].Add($p)
        }
    }
    # Alphabetical, with -WhatIf and -Confirm last, as in PowerShell's own help.
    $parameters = [ordered]@{}
    foreach ($name in @($byName.Keys | Sort-Object { $optionalCommonText.ContainsKey($_) }, { $_ })) {
        $all = $byName[$name].ToArray()
        $text = if ($optionalCommonText.ContainsKey($name)) { , @($optionalCommonText[$name]) }
                else {
                    $id = Get-MemberDocId $cmdlet $name
                    $pdoc = if ($id) { $docs[$id] } else { $null }
                    , @(if ($pdoc) { ConvertTo-Paragraph $pdoc.SelectSingleNode('summary') })
                }
        if (-not $text) { $problems.Add("${where}: parameter -$name has no description; add a <summary> to it.") }
        $meta = $cmdlet.Parameters[$name]
        $parameters[$name] = [pscustomobject]@{
            Name        = $name
            Required    = -not $all.Where({ -not $_.IsMandatory })
            Position    = Get-PositionText $all
            Pipeline    = Get-PipelineText $all
            Globbing    = [bool] $meta.Attributes.Where({ $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
            Aliases     = @($meta.Aliases)
            Type        = $meta.ParameterType
            Description = $text
        }
    }

    [pscustomobject]@{
        Cmdlet = $cmdlet; Synopsis = $synopsis; Description = $description; Examples = $examples; Links = $links
        Sets = $sets; Parameters = $parameters
    }
}

if ($problems.Count) {
    foreach ($p in $problems) { [Console]::Error.WriteLine("error: $p") }
    [Console]::Error.WriteLine("error: help is incomplete: $($problems.Count) problem(s); nothing was written.")
    exit 1
}

$dir = Split-Path -Parent $OutputPath
if ($dir) { [void] (New-Item -ItemType Directory -Force -Path $dir) }
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; IndentChars = '  '; Encoding = [System.Text.UTF8Encoding]::new($false) }
$w = [System.Xml.XmlWriter]::Create([IO.Path]::GetFullPath($OutputPath, (Get-Location).ProviderPath), $settings)
try {
    $w.WriteStartDocument()
    $w.WriteStartElement('helpItems', $ns.msh)
    $w.WriteAttributeString('schema', 'maml')
    foreach ($h in $helpItems) {
        $c = $h.Cmdlet
        $w.WriteStartElement('command', 'command', $ns.command)
        foreach ($prefix in 'maml', 'command', 'dev', 'MSHelp') { $w.WriteAttributeString('xmlns', $prefix, $null, $ns[$prefix]) }

        $w.WriteStartElement('command', 'details', $ns.command)
        $w.WriteElementString('command', 'name', $ns.command, $c.Name)
        $w.WriteElementString('command', 'verb', $ns.command, $c.Verb)
        $w.WriteElementString('command', 'noun', $ns.command, $c.Noun)
        Write-Para $w @($h.Synopsis)
        $w.WriteEndElement()

        Write-Para $w $h.Description

        $w.WriteStartElement('command', 'syntax', $ns.command)
        foreach ($set in $h.Sets) {
            $w.WriteStartElement('command', 'syntaxItem', $ns.command)
            $w.WriteElementString('maml', 'name', $ns.maml, $c.Name)
            $inSet = @($set.Parameters | Where-Object Name -NotIn $common |
                Sort-Object { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } }, { -not $_.IsMandatory })
            foreach ($p in $inSet) {
                $shared = $h.Parameters[$p.Name]
                Write-Parameter $w ([pscustomobject]@{
                        Name = $p.Name; Required = $p.IsMandatory; Position = Get-PositionText @($p); Pipeline = Get-PipelineText @($p)
                        Globbing = $shared.Globbing; Aliases = $shared.Aliases; Type = $shared.Type; Description = $shared.Description
                    })
            }
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'parameters', $ns.command)
        foreach ($p in $h.Parameters.Values) { Write-Parameter $w $p }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'inputTypes', $ns.command)
        $piped = @($h.Parameters.Values | Where-Object Pipeline -NE 'False')
        if (-not $piped) {
            $w.WriteStartElement('command', 'inputType', $ns.command)
            Write-Type $w 'None'
            Write-Para $w @('You cannot pipe objects to this cmdlet.')
            $w.WriteEndElement()
        }
        foreach ($group in $piped | Group-Object { Format-TypeName $(if ($_.Type.IsArray) { $_.Type.GetElementType() } else { $_.Type }) -Full }) {
            $w.WriteStartElement('command', 'inputType', $ns.command)
            Write-Type $w $group.Name
            Write-Para $w @($group.Group | ForEach-Object { "The -$($_.Name) parameter accepts it from the pipeline: $($_.Pipeline -replace '^True \((.*)\)$', '$1')." })
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'returnValues', $ns.command)
        $outputs = @($c.OutputType)
        if (-not $outputs) {
            $w.WriteStartElement('command', 'returnValue', $ns.command)
            Write-Type $w 'None'
            Write-Para $w @('This cmdlet returns no output.')
            $w.WriteEndElement()
        }
        foreach ($o in $outputs) {
            $w.WriteStartElement('command', 'returnValue', $ns.command)
            Write-Type $w $o.Name
            $odoc = if ($o.Type) { $docs[(Get-DocId 'T' $o.Type)] } else { $null }
            Write-Para $w $(if ($odoc) { ConvertTo-Paragraph $odoc.SelectSingleNode('summary') } else { @() })
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'examples', $ns.command)
        $n = 0
        foreach ($e in $h.Examples) {
            $n++
            $title = if ($e.Title) { "Example ${n}: $($e.Title)" } else { "Example $n" }
            $w.WriteStartElement('command', 'example', $ns.command)
            $w.WriteElementString('maml', 'title', $ns.maml, "--------- $title ---------")
            $w.WriteElementString('dev', 'code', $ns.dev, $e.Code)
            $w.WriteStartElement('dev', 'remarks', $ns.dev)
            foreach ($p in $e.Remarks) { $w.WriteElementString('maml', 'para', $ns.maml, $p) }
            $w.WriteEndElement()
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'relatedLinks', $ns.command)
        foreach ($l in $h.Links) {
            $w.WriteStartElement('maml', 'navigationLink', $ns.maml)
            $w.WriteElementString('maml', 'linkText', $ns.maml, $l.Text)
            $w.WriteElementString('maml', 'uri', $ns.maml, $l.Uri)
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndDocument()
}
finally { $w.Dispose() }

"Help: $($cmdlets.Count) cmdlet(s) -> $OutputPath"
