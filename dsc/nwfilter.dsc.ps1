# The one dispatcher of NwFilter's DSC v3 command resources (NwFilter/Filter, NwFilter/Binding, NwFilter/State),
# shipped in the module folder beside their manifests (docs/design/state.md). nwfilterctl (the manifests' executable)
# runs it when nwfilterd does not answer, as
#   pwsh -NoLogo -NonInteractive -NoProfile -File ./nwfilter.dsc.ps1 <filter|binding|state> <get|test|set|delete|export> [-WhatIf]
# with the instance's JSON on stdin. It drives the state cmdlets, so the resources test what Test-NwFilterState
# tests: test returns the actual state with _inDesiredState, and set (implementsPretest, return: state) tests,
# changes only what differs and prints the state after: one process per set.
#
# The param block has no [Parameter()] attribute on purpose: a script with one becomes an advanced script, and an
# advanced entry script run with -File does not receive stdin in $input.
# Output: one JSON object per line on stdout. Errors: {"error": "..."} lines on stderr, exit 1 (2: bad input).
param($ResourceType, $Operation, [switch] $WhatIf)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
$stdin = @($input) -join "`n"

class InputError : Exception { InputError([string] $message) : base($message) {} }

function Write-Trace([string] $Level, [string] $Message) {
    [Console]::Error.WriteLine((@{ $Level = $Message } | ConvertTo-Json -Compress))
}

function Read-Instance([string[]] $Known, [string[]] $Required) {
    if ([string]::IsNullOrWhiteSpace($stdin)) {
        if ($Required) { throw [InputError]::new("No JSON input: give the instance's properties on stdin ($($Required -join ', ') required).") }
        return @{}
    }
    try { $o = $stdin | ConvertFrom-Json -AsHashtable -Depth 8 } catch { throw [InputError]::new("The input is not valid JSON: $($_.Exception.Message)") }
    if ($o -isnot [hashtable]) { throw [InputError]::new('The input must be a JSON object.') }
    foreach ($key in @($o.Keys)) {
        if ($key -notin $Known -and $key -notin '$schema', '_inDesiredState') { throw [InputError]::new("'$key' is not a property of this resource; the properties are $($Known -join ', ').") }
    }
    foreach ($key in $Required) {
        if (-not $o.ContainsKey($key) -or [string]::IsNullOrEmpty([string] $o[$key])) { throw [InputError]::new("The property '$key' is required.") }
    }
    if ($o.ContainsKey('_exist') -and $o['_exist'] -isnot [bool]) { throw [InputError]::new("'_exist' must be true or false.") }
    $o
}

function Exists($Instance) { -not $Instance.ContainsKey('_exist') -or $Instance['_exist'] }

function Out-Json($Object) { $Object | ConvertTo-Json -Compress -Depth 16 }

function Write-StateErrors($Errors) {
    # The state cmdlets name the JSON path of each problem; the first one is the resource's error. A change the host
    # could not make (its record's category says so) exits 1, an error of the input 2.
    if ($Errors.Count -eq 0) { return }
    $message = @($Errors | ForEach-Object { $_.ToString() }) -join ' '
    if (@($Errors | Where-Object { "$($_.CategoryInfo.Category)" -in 'ResourceUnavailable', 'InvalidOperation', 'PermissionDenied' }).Count -gt 0) {
        throw [System.InvalidOperationException]::new($message)
    }
    throw [InputError]::new($message)
}

#region NwFilter/Filter: name, xml, _exist

function Get-FilterInstance([string] $Name) {
    $state = Get-NwFilterState
    $filter = @($state.Filters | Where-Object Name -CEQ $Name)
    if ($filter.Count -eq 0) { return [ordered]@{ name = $Name; _exist = $false } }
    $xml = $filter[0].Xml
    if ($null -eq $xml) { $xml = Get-NwFilter -Name $Name | ConvertTo-NwFilterXml }
    [ordered]@{ name = $Name; xml = $xml; hash = $filter[0].Hash; _exist = $true }
}

function Test-FilterInstance($Instance) {
    $actual = Get-FilterInstance $Instance.name
    if (-not (Exists $Instance)) { $actual['_inDesiredState'] = -not $actual._exist; return $actual }
    if (-not $Instance.ContainsKey('xml')) { $actual['_inDesiredState'] = $actual._exist; return $actual }
    $result = Test-NwFilterState -InputObject @{ filters = @(@{ name = $Instance.name; xml = [string] $Instance.xml }) } -ErrorVariable bad -ErrorAction SilentlyContinue
    Write-StateErrors $bad
    $actual['_inDesiredState'] = $result.InDesiredState
    $actual
}

function Set-FilterInstance($Instance) {
    if ($WhatIf) {
        # What-if: check the instance as set would (bad input fails the same way), change nothing, and return the
        # state set would leave (What if: lines on stdout would break dsc's JSON, so the cmdlets' -WhatIf is not used).
        $null = Test-FilterInstance $Instance
        return [ordered]@{ name = $Instance.name; xml = $Instance['xml']; _exist = (Exists $Instance) }
    }
    if (-not (Exists $Instance)) {
        if ((Get-FilterInstance $Instance.name)._exist -and (Get-NwFilter -Name $Instance.name).Origin -ne 'BuiltIn') {
            Remove-NwFilter -Name $Instance.name -Confirm:$false
        }
    }
    else {
        if (-not $Instance.ContainsKey('xml')) { throw [InputError]::new("The property 'xml' is required to define the filter '$($Instance.name)'.") }
        $null = Set-NwFilterState -InputObject @{ filters = @(@{ name = $Instance.name; xml = [string] $Instance.xml }) } -Confirm:$false -ErrorVariable bad -ErrorAction SilentlyContinue
        Write-StateErrors $bad
    }
    Get-FilterInstance $Instance.name
}

function Export-FilterInstance {
    foreach ($f in (Get-NwFilterState).Filters | Where-Object Origin -ne 'BuiltIn') {
        [ordered]@{ name = $f.Name; xml = $f.Xml; hash = $f.Hash; _exist = $true }
    }
}

#endregion
#region NwFilter/Binding: portDevice, macAddress, filter, parameters, backend, counters, _exist

function ConvertTo-BindingInstance($Binding) {
    $parameters = [ordered]@{}
    foreach ($p in $Binding.Parameters.GetEnumerator()) { $parameters[$p.Key] = if ($p.Value.Length -eq 1) { $p.Value[0] } else { @($p.Value) } }
    [ordered]@{ portDevice = $Binding.PortDevice; macAddress = $Binding.MacAddress; filter = $Binding.Filter; parameters = $parameters; backend = "$($Binding.Backend)"; counters = $Binding.Counters; _exist = $true }
}

function Get-BindingInstance([string] $PortDevice) {
    $binding = @((Get-NwFilterState).Bindings | Where-Object PortDevice -CEQ $PortDevice)
    if ($binding.Count -eq 0) { return [ordered]@{ portDevice = $PortDevice; _exist = $false }, $null }
    (ConvertTo-BindingInstance $binding[0]), $binding[0]
}

function New-BindingDocument($Instance, $Current) {
    # The properties the instance does not give keep their current values (the owner is libvirt's, not ours).
    $b = @{ portDevice = $Instance.portDevice }
    foreach ($key in 'macAddress', 'filter', 'parameters', 'backend', 'counters') {
        if ($Instance.ContainsKey($key)) { $b[$key] = $Instance[$key] } elseif ($Current) { $b[$key] = (ConvertTo-BindingInstance $Current)[$key] }
    }
    if ($Current) { $b['owner'] = $Current.Owner; $b['ownerUuid'] = "$($Current.OwnerUuid)"; if ($Current.LinkDevice) { $b['linkDevice'] = $Current.LinkDevice } }
    @{ bindings = @($b) }
}

function Test-BindingInstance($Instance) {
    $actual, $current = Get-BindingInstance $Instance.portDevice
    if (-not (Exists $Instance)) { $actual['_inDesiredState'] = -not $actual._exist; return $actual }
    $result = Test-NwFilterState -InputObject (New-BindingDocument $Instance $current) -ErrorVariable bad -ErrorAction SilentlyContinue
    Write-StateErrors $bad
    $actual['_inDesiredState'] = $result.InDesiredState
    $actual
}

function Set-BindingInstance($Instance) {
    if ($WhatIf) {
        $null = Test-BindingInstance $Instance
        $would = [ordered]@{}
        foreach ($key in $Instance.Keys) { if ($key -ne '_inDesiredState') { $would[$key] = $Instance[$key] } }
        $would['_exist'] = Exists $Instance
        return $would
    }
    $null, $current = Get-BindingInstance $Instance.portDevice
    if (-not (Exists $Instance)) {
        if ($current) { Remove-NwFilterBinding -PortDevice $Instance.portDevice -Confirm:$false }
    }
    else {
        foreach ($key in 'macAddress', 'filter') {
            if (-not $current -and -not $Instance.ContainsKey($key)) { throw [InputError]::new("The property '$key' is required to bind the port '$($Instance.portDevice)'.") }
        }
        $null = Set-NwFilterState -InputObject (New-BindingDocument $Instance $current) -Confirm:$false -ErrorVariable bad -ErrorAction SilentlyContinue
        Write-StateErrors $bad
    }
    (Get-BindingInstance $Instance.portDevice)[0]
}

#endregion
#region NwFilter/State: the whole host (filters, bindings, settings), as Export-NwFilterState writes it

function Get-StateInstance { Export-NwFilterState | ConvertFrom-Json -AsHashtable -Depth 16 }

function ConvertTo-StateDocument($Instance) {
    $document = [ordered]@{}
    foreach ($key in $Instance.Keys) { if ($key -notin '$schema', '_inDesiredState') { $document[$key] = $Instance[$key] } }
    $document | ConvertTo-Json -Compress -Depth 16
}

function Test-StateInstance($Instance) {
    $actual = Get-StateInstance
    $result = Test-NwFilterState -InputObject (ConvertTo-StateDocument $Instance) -ErrorVariable bad -ErrorAction SilentlyContinue
    Write-StateErrors $bad
    $actual['_inDesiredState'] = $result.InDesiredState
    $actual
}

function Set-StateInstance($Instance) {
    if ($WhatIf) {
        $null = Test-StateInstance $Instance
        return ConvertTo-StateDocument $Instance | ConvertFrom-Json -AsHashtable -Depth 16
    }
    $null = Set-NwFilterState -InputObject (ConvertTo-StateDocument $Instance) -Confirm:$false -ErrorVariable bad -ErrorAction SilentlyContinue
    Write-StateErrors $bad
    Get-StateInstance
}

#endregion

$filterKeys = 'name', 'xml', 'hash', '_exist'
$stateKeys = 'filters', 'bindings', 'settings', 'stateHash'
$bindingKeys = 'portDevice', 'macAddress', 'filter', 'parameters', 'backend', 'counters', '_exist'
try {
    Import-Module (Join-Path $PSScriptRoot 'NwFilter.psd1') -ErrorAction Stop
    $out = switch ("$ResourceType/$Operation".ToLowerInvariant()) {
        'filter/get' { Get-FilterInstance (Read-Instance $filterKeys 'name').name }
        'filter/test' { Test-FilterInstance (Read-Instance $filterKeys 'name') }
        'filter/set' { Set-FilterInstance (Read-Instance $filterKeys 'name') }
        'filter/delete' { $i = Read-Instance $filterKeys 'name'; $i['_exist'] = $false; $null = Set-FilterInstance $i }
        'filter/export' { Export-FilterInstance }
        'binding/get' { (Get-BindingInstance (Read-Instance $bindingKeys 'portDevice').portDevice)[0] }
        'binding/test' { Test-BindingInstance (Read-Instance $bindingKeys 'portDevice') }
        'binding/set' { Set-BindingInstance (Read-Instance $bindingKeys 'portDevice') }
        'binding/delete' { $i = Read-Instance $bindingKeys 'portDevice'; $i['_exist'] = $false; $null = Set-BindingInstance $i }
        'binding/export' { foreach ($b in (Get-NwFilterState).Bindings) { ConvertTo-BindingInstance $b } }
        'state/get' { $null = Read-Instance $stateKeys @(); Get-StateInstance }
        'state/test' { Test-StateInstance (Read-Instance $stateKeys @()) }
        'state/set' { Set-StateInstance (Read-Instance $stateKeys @()) }
        'state/export' { Get-StateInstance }
        default { throw [InputError]::new("Unknown resource operation '$ResourceType $Operation'.") }
    }
    foreach ($o in @($out)) { if ($null -ne $o) { Out-Json $o } }
    exit 0
}
catch {
    $e = $_.Exception
    while ($e -is [System.Management.Automation.RuntimeException] -and $e.InnerException -and $e -isnot [InputError]) { $e = $e.InnerException }
    Write-Trace 'error' $(if ($_.ErrorDetails) { $_.ErrorDetails.Message } else { $_.Exception.Message })
    exit $(if ($_.Exception -is [InputError] -or $e -is [InputError]) { 2 } else { 1 })
}
