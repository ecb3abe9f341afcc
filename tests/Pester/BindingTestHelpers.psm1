# Helpers for the binding cmdlets' tests: a throw-away network namespace per test file, when running as root with the
# firewall tools. Its name follows the xunit lab's pattern (nwft-<id>-<pid>-host) so a crashed run's namespace is swept.
#
#   BeforeAll { $script:Lab = New-NwFilterTestNamespace }          # $null when not root or tools are missing
#   AfterAll  { Remove-NwFilterTestNamespace $script:Lab }
#   It '...' -Skip:(-not (Test-NwFilterKernelTests)) { ... }       # evaluated at discovery time

Set-StrictMode -Version Latest

function Test-NwFilterKernelTests {
    # True when kernel tests can run here: root, Linux, the tools, and NWFILTER_SKIP_NETNS unset.
    [OutputType([bool])]
    param()
    if (-not $IsLinux -or $env:NWFILTER_SKIP_NETNS) { return $false }
    if ((& id -u) -ne '0') { return $false }
    foreach ($tool in 'ip', 'ebtables-save', 'ebtables-restore', 'iptables-save', 'iptables-restore', 'ip6tables-save', 'ip6tables-restore', 'nft') {
        if (-not (Get-Command $tool -CommandType Application -ErrorAction SilentlyContinue)) { return $false }
    }
    $true
}

function New-NwFilterTestNamespace {
    # Creates a namespace with a bridge br0 and veth ports vnet0..vnet<Ports-1> (peers left in the same namespace,
    # down: no traffic is needed), and points NWFILTER_NETNS at it. Returns its name, or $null when kernel tests cannot run.
    param([int] $Ports = 2)
    $script:PreviousNetns = $env:NWFILTER_NETNS
    if (-not (Test-NwFilterKernelTests)) {
        # A namespace that does not exist: a test that is not skipped can never reach the host's own firewall.
        $env:NWFILTER_NETNS = "nwft-absent-$PID"
        return $null
    }
    $id = -join ((48..57) + (97..122) | Get-Random -Count 6 | ForEach-Object { [char] $_ })
    $name = "nwft-$id-$PID-host"
    & ip netns add $name
    if ($LASTEXITCODE -ne 0) { throw "ip netns add $name failed" }
    $batch = @('link set lo up', 'link add br0 type bridge') + @(0..($Ports - 1) | ForEach-Object { "link add vnet$_ type veth peer name peer$_"; "link set vnet$_ master br0" })
    $batch -join "`n" | & ip -n $name -batch - | Out-Null
    if ($LASTEXITCODE -ne 0) { & ip netns delete $name; throw "setting up $name failed" }
    $env:NWFILTER_NETNS = $name
    $name
}

function Remove-NwFilterTestNamespace {
    param([AllowNull()] [string] $Name)
    $env:NWFILTER_NETNS = $script:PreviousNetns
    if ($Name) { & ip netns delete $Name }
}

function Get-NwFilterTestSave {
    # The three tables of the namespace as the save tools print them, without comments and counters.
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Name)
    $text = foreach ($tool in @('ebtables-save', 'iptables-save', 'ip6tables-save')) {
        & ip netns exec $Name $tool | Where-Object { $_ -and -not $_.StartsWith('#') }
    }
    ($text -join "`n") -replace ' \[0:0\]', ''
}

function Invoke-NwFilterInChild {
    # Runs a script in a child pwsh with the laid-out module imported and returns everything it printed: -WhatIf
    # messages go to the host, not to a stream, so only a child's output shows them.
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Script)
    $manifest = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out/NwFilter/NwFilter.psd1'))
    $exe = [Environment]::ProcessPath
    $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    (& $exe @pre -NoProfile -NonInteractive -Command "`$ErrorActionPreference = 'Stop'; Import-Module '$manifest'; $Script" 2>&1) -join "`n"
}

Export-ModuleMember -Function Test-NwFilterKernelTests, New-NwFilterTestNamespace, Remove-NwFilterTestNamespace, Get-NwFilterTestSave, Invoke-NwFilterInChild
