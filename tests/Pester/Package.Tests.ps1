# The gallery package: build.ps1 -Task Package's publisher (tools/Publish-NwFilterPackage.ps1) turns the laid-out module
# into a .nupkg in a local file repository; Install-PSResource installs it from there into a clean user module path
# (a throw-away HOME, because repository registrations and the user module path are per user); a fresh pwsh that has
# never seen the repository imports NwFilter by name and runs commands from it.
BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $root = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
    $script:ModuleOut = Join-Path $root 'out/NwFilter'
    $script:Repository = Join-Path $TestDrive 'repository'
    $script:CleanHome = Join-Path $TestDrive 'home'
    $script:Manifest = Import-PowerShellDataFile -LiteralPath (Join-Path $ModuleOut 'NwFilter.psd1')

    function script:Invoke-CleanPwsh([string] $Command) {
        # A fresh pwsh whose HOME and XDG folders are the throw-away home, so that its user module path and
        # PSResourceGet's registrations are those of a user who has never installed anything.
        $exe = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $saved = @{ HOME = $env:HOME; XDG_DATA_HOME = $env:XDG_DATA_HOME; XDG_CONFIG_HOME = $env:XDG_CONFIG_HOME; PSModulePath = $env:PSModulePath }
        try {
            $env:HOME = $CleanHome; $env:XDG_DATA_HOME = Join-Path $CleanHome '.local/share'; $env:XDG_CONFIG_HOME = Join-Path $CleanHome '.config'
            # Existing folders: .NET answers "" for a per-user folder that does not exist.
            [void] (New-Item -ItemType Directory -Force -Path $env:XDG_DATA_HOME, $env:XDG_CONFIG_HOME)
            # The child builds its module path itself (user, shared, $PSHOME), not inherited from this test run.
            Remove-Item Env:PSModulePath -ErrorAction SilentlyContinue
            $out = (& $exe @pre -NoProfile -NonInteractive -Command "`$ErrorActionPreference = 'Stop'; $Command" 2>&1) -join "`n"
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = $out }
        }
        finally {
            foreach ($k in $saved.Keys) { if ($null -eq $saved[$k]) { Remove-Item "Env:$k" -ErrorAction SilentlyContinue } else { Set-Item "Env:$k" $saved[$k] } }
        }
    }
}

Describe 'Gallery package' {
    It 'the manifest carries what the gallery requires and users read' {
        $Manifest.Description | Should -Match 'libpcap'
        $Manifest.Author | Should -Not -BeNullOrEmpty
        $Manifest.CompatiblePSEditions | Should -Be @('Core')
        [version] $Manifest.PowerShellVersion | Should -Be ([version] '7.4')
        $Manifest.PrivateData.PSData.Tags | Should -Contain 'Linux'
        $Manifest.PrivateData.PSData.Tags | Should -Contain 'PSEdition_Core'
        $Manifest.PrivateData.PSData.LicenseUri | Should -Match '^https://'
        $Manifest.PrivateData.PSData.ReleaseNotes | Should -Match "^$([regex]::Escape($Manifest.ModuleVersion)):"
        Join-Path $ModuleOut 'LICENSE' | Should -Exist
    }

    It 'publishes a .nupkg into a local file repository' {
        $exe = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $out = (& $exe @pre -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot '../../tools/Publish-NwFilterPackage.ps1') -ModulePath $ModuleOut -RepositoryPath $Repository 2>&1) -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $out
        $package = Join-Path $Repository "NwFilter.$($Manifest.ModuleVersion).nupkg"
        $package | Should -Exist
        $entries = [IO.Compression.ZipFile]::OpenRead($package)
        try { $names = @($entries.Entries.FullName) } finally { $entries.Dispose() }
        foreach ($file in 'NwFilter.psd1', 'NwFilter.dll', 'NwFilter.Core.dll', 'en-US/NwFilter.dll-Help.xml', 'NwFilter.Format.ps1xml', 'filter.dsc.resource.json', 'LICENSE',
            'nwfilterd/nwfilterd', 'nwfilterd/nwfilterd.dll', 'nwfilterd/nwfilterd.runtimeconfig.json', 'nwfilterd/nwfilterd.deps.json', 'nwfilterd/NwFilter.Core.dll',
            'nwfilterd/nwfilterctl', 'nwfilterd/nwfilterctl.dll', 'nwfilterd/nwfilterctl.runtimeconfig.json', 'nwfilterd/nwfilterctl.deps.json',
            'systemd/nwfilterd.service', 'systemd/nwfilterd.socket') {
            $names | Should -Contain $file
        }
        # The publisher registered its repository under a throw-away HOME, never in this user's registrations.
        Get-PSResourceRepository -Name NwFilterLocal -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Join-Path $PWD 'PSResourceGet' | Should -Not -Exist
    }

    It 'installs from that repository into a clean user module path, and a fresh pwsh imports it by name and works' {
        $install = Invoke-CleanPwsh ("Register-PSResourceRepository -Name Local -Uri '$Repository' -Trusted; " +
            "Install-PSResource -Name NwFilter -Repository Local -Scope CurrentUser -TrustRepository -Quiet; " +
            "(Get-InstalledPSResource -Name NwFilter).InstalledLocation")
        $install.ExitCode | Should -Be 0 -Because $install.Output
        $install.Output | Should -Match ([regex]::Escape($CleanHome))

        $config = Join-Path $TestDrive 'config'
        $run = Invoke-CleanPwsh ("`$env:NWFILTER_CONFIG_DIR = '$config'; Import-Module NwFilter; " +
            "`$m = Get-Module NwFilter; 'base=' + `$m.ModuleBase; 'version=' + `$m.Version; " +
            "'builtins=' + @(Get-NwFilter).Count; " +
            "Set-NwFilter -Xml `"<filter name='pkg-web' chain='root'><rule action='accept' direction='in' priority='500'><tcp dstportstart='443'/></rule></filter>`"; " +
            "'valid=' + (Test-NwFilter -Name pkg-web).IsValid; " +
            "'help=' + ((Get-Help Get-NwFilter).Synopsis -ne '')")
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Output | Should -Match "(?m)^base=$([regex]::Escape($CleanHome))/\S+/Modules/NwFilter/"
        $run.Output | Should -Match "(?m)^version=$([regex]::Escape($Manifest.ModuleVersion))$"
        $run.Output | Should -Match '(?m)^builtins=([1-9]\d*)$'
        $run.Output | Should -Match '(?m)^valid=True$'
        $run.Output | Should -Match '(?m)^help=True$'
        Join-Path $config 'pkg-web.xml' | Should -Exist
    }

    It 'carries nwfilterd and its systemd units in the installed module, as the README installs them from there' {
        $found = Invoke-CleanPwsh "(Get-Module -ListAvailable NwFilter | Select-Object -First 1).ModuleBase"
        $found.ExitCode | Should -Be 0 -Because $found.Output
        $base = $found.Output.Trim()
        foreach ($file in 'nwfilterd/nwfilterd', 'nwfilterd/nwfilterd.dll', 'systemd/nwfilterd.service', 'systemd/nwfilterd.socket') {
            Join-Path $base $file | Should -Exist
        }
        # The README's steps: copy the folder to /usr/local/lib/nwfilterd (here: a temp copy), mark the launcher executable, run it.
        $lib = Join-Path $TestDrive 'usr-local-lib-nwfilterd'
        Copy-Item -LiteralPath (Join-Path $base 'nwfilterd') -Destination $lib -Recurse
        & chmod +x (Join-Path $lib 'nwfilterd')
        $help = (& (Join-Path $lib 'nwfilterd') --help 2>&1) -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $help
        $help | Should -Match '--import-libvirt'
        $help | Should -Match '--control-socket'
        (Get-Content -Raw (Join-Path $base 'systemd/nwfilterd.service')) | Should -Match '(?m)^ExecStart=/usr/local/lib/nwfilterd/nwfilterd '
        # The DSC manifests' executable, marked executable in place as the README says, runs from the installed module.
        $m = Get-Content -Raw (Join-Path $base 'filter.dsc.resource.json') | ConvertFrom-Json
        $ctl = Join-Path $base $m.get.executable
        & chmod +x $ctl
        $usage = (& $ctl --help 2>&1) -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $usage
        $usage | Should -Match 'nwfilterctl dsc <filter\|binding\|state>'
    }
}
