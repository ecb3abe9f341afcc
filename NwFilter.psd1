# Module manifest for NwFilter: libvirt's network filters (nwfilter) for PowerShell 7 on Linux.
# ModuleVersion is stamped from <VersionPrefix> in Directory.Build.props by `build.ps1 -Task Layout`;
# keep the two equal (the contract test checks it).
# CmdletsToExport must list exactly the cmdlet classes in NwFilter.dll (the Layout task fails otherwise).
@{
    RootModule           = 'NwFilter.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '421a1c62-7c6c-44c5-bd60-37b2c11c6df3'
    Author               = 'NwFilter engineers'
    CompanyName          = 'NwFilter'
    Copyright            = '(c) NwFilter engineers.'
    Description          = 'Network filters in the manner of libvirt nwfilter: define filters in libvirt XML, bind them to interfaces, and compile them to ebtables/iptables or nftables.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('NwFilter.Format.ps1xml')
    TypesToProcess       = @('NwFilter.Types.ps1xml')
    CmdletsToExport      = @(
        'Build-NwFilterRuleset',
        'ConvertFrom-NwFilterXml',
        'ConvertTo-NwFilterXml',
        'Edit-NwFilter',
        'Export-NwFilter',
        'Get-NwFilter',
        'Get-NwFilterBinding',
        'Import-NwFilter',
        'Invoke-NwFilterBinding',
        'New-NwFilterRule',
        'Remove-NwFilter',
        'Remove-NwFilterBinding',
        'Resolve-NwFilter',
        'Restore-NwFilterBinding',
        'Set-NwFilter',
        'Test-NwFilter',
        'Test-NwFilterBinding',
        # Desired state as data (issue 17; docs/design/state.md)
        'Export-NwFilterState',
        'Get-NwFilterState',
        'Set-NwFilterState',
        'Test-NwFilterState',
        # Packet trace and filter graph (issue 14)
        'Export-NwFilterGraph',
        'Trace-NwFilterPacket'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('nwfilter', 'libvirt', 'firewall', 'ebtables', 'iptables', 'nftables', 'Linux')
        }
    }
}
