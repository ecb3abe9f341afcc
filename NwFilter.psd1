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
    Description          = 'libvirt''s network filters (nwfilter) for KVM/QEMU hosts on Linux: define filters in libvirt XML, bind them to VM ports atomically on nftables or ebtables/iptables (byte-exact with libvirt), learn VM addresses (needs libpcap), and keep hosts in a desired state (DSC v3, Ansible). Needs root to change the firewall.'
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
        # Editing one rule of a filter (issue 16)
        'Add-NwFilterRule',
        'Remove-NwFilterRule',
        # Packet trace and filter graph (issue 14)
        'Export-NwFilterGraph',
        'Trace-NwFilterPacket',
        # Per-rule counters (issue 14)
        'Get-NwFilterStatistic',
        'Reset-NwFilterStatistic'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            # What the PowerShell Gallery shows and searches. ProjectUri is stamped by `build.ps1 -Task Package`
            # from the repository's origin remote (none is invented here).
            Tags         = @('nwfilter', 'libvirt', 'KVM', 'QEMU', 'firewall', 'ebtables', 'iptables', 'nftables', 'DSC', 'Linux', 'PSEdition_Core')
            LicenseUri   = 'https://spdx.org/licenses/LGPL-2.1-or-later.html'
            ReleaseNotes = @'
0.1.0: libvirt's nwfilter as PowerShell cmdlets. Filters in libvirt's XML (store, validation, editing, the 24 built-ins),
bindings applied atomically per port on ebtables/iptables (byte-exact with libvirt 9.0) or natively on nftables, IP
address learning (needs libpcap: apt-get install libpcap0.8), desired state as data (Get/Test/Set/Export-NwFilterState),
DSC v3 resources and Ansible modules (contrib/ansible).
'@
        }
    }
}
