BeforeDiscovery {
    # libvirt's corpus beside the repository (or NWFILTER_LIBVIRT_CORPUS), as the xunit tests find it.
    $corpus = if ($env:NWFILTER_LIBVIRT_CORPUS) { $env:NWFILTER_LIBVIRT_CORPUS } else { Join-Path $PSScriptRoot '../../../shared/libvirt-nwfilter' }
    Import-Module (Join-Path $PSScriptRoot 'BindingTestHelpers.psm1') -Force
    $script:HaveCorpus = Test-NwFilterResource corpus (Test-Path (Join-Path $corpus 'live-9.0')) "libvirt's nwfilter corpus not found at $corpus"
}

BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:Corpus = Join-Path $TestEnv.Root '../shared/libvirt-nwfilter'
    if ($env:NWFILTER_LIBVIRT_CORPUS) { $script:Corpus = $env:NWFILTER_LIBVIRT_CORPUS }
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Import-NwFilter' {
    It 'imports a libvirt filter directory' {
        $dir = Join-Path $TestEnv.TempDir 'libvirt'
        New-Item -ItemType Directory $dir | Out-Null
        Set-Content (Join-Path $dir 'web.xml') "<filter name='web'><uuid>11111111-2222-3333-4444-555555555555</uuid><filterref filter='base'/></filter>"
        Set-Content (Join-Path $dir 'base.xml') "<filter name='base'><rule action='accept' direction='in'/></filter>"
        $imported = Import-NwFilter -Path $dir -PassThru -WarningVariable w
        $w.Count | Should -Be 0
        $imported.Name | Should -Be @('base', 'web')
        (Get-NwFilter web).Uuid | Should -Be '11111111-2222-3333-4444-555555555555'
    }

    It 'leaves unchanged filters alone: importing libvirt''s own built-ins changes nothing' -Skip:(-not $HaveCorpus) {
        $dump = Join-Path $Corpus 'live-9.0/00-all-builtin-filters.dumpxml.txt'
        $before = @(Get-ChildItem -LiteralPath $TestEnv.ConfigDir -Filter *.xml).Count
        $messages = Import-NwFilter -LiteralPath $dump -Verbose -ErrorVariable errs -ErrorAction SilentlyContinue 4>&1
        # libvirt 9.0's clean-traffic-gateway is older than ours: it is the one filter that is updated.
        @($messages | Where-Object { "$_" -like 'Unchanged*' }).Count | Should -Be 23
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'FilterExistsWithOtherUuid,NwFilter.Commands.ImportNwFilterCommand'
        $errs[0].ErrorDetails.RecommendedAction | Should -BeLike '*-DiscardUuid*'
        @(Get-ChildItem -LiteralPath $TestEnv.ConfigDir -Filter *.xml).Count | Should -Be $before
    }

    It 'imports a dumpxml stream from the pipeline with -DiscardUuid' -Skip:(-not $HaveCorpus) {
        $builtInUuid = (Get-NwFilter clean-traffic-gateway).Uuid
        Get-Content (Join-Path $Corpus 'live-9.0/00-all-builtin-filters.dumpxml.txt') | Import-NwFilter -DiscardUuid
        $gateway = Get-NwFilter clean-traffic-gateway
        $gateway.Origin | Should -Be 'Redefined'
        $gateway.Uuid | Should -Be $builtInUuid
        @(Get-NwFilter | Where-Object Origin -eq Redefined).Count | Should -Be 1
        Remove-NwFilter clean-traffic-gateway
    }

    It 'reports each unreadable document and imports the rest' {
        $xml = "<filter name='ok1'/>`n<filter name='bad'><rule action='x' direction='in'/></filter>`n<filter name='ok2'/>"
        Import-NwFilter -Xml $xml -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'InvalidAttributeValue,NwFilter.Commands.ImportNwFilterCommand'
        (Get-NwFilter ok1, ok2).Count | Should -Be 2
    }

    It 'refuses a device, a FIFO and invalid UTF-8 with their own ids and imports the rest' {
        $fifo = Join-Path $TestEnv.TempDir 'pipe.xml'
        & mkfifo $fifo
        $latin1 = Join-Path $TestEnv.TempDir 'latin1.xml'
        [IO.File]::WriteAllBytes($latin1, [byte[]] @([Text.Encoding]::ASCII.GetBytes("<filter name='caf") + 0xE9 + [Text.Encoding]::ASCII.GetBytes("'/>")))
        $good = Join-Path $TestEnv.TempDir 'fine.xml'
        Set-Content $good "<filter name='fine'><rule action='accept' direction='in'/></filter>"
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $imported = Import-NwFilter -LiteralPath '/dev/zero', $fifo, $latin1, $good -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        $imported.Name | Should -Be 'fine'
        $errs.FullyQualifiedErrorId | Should -Be @(
            'NotARegularFile,NwFilter.Commands.ImportNwFilterCommand'
            'NotARegularFile,NwFilter.Commands.ImportNwFilterCommand'
            'InvalidEncoding,NwFilter.Commands.ImportNwFilterCommand')
        $errs[2].TargetObject | Should -Be $latin1
        Get-NwFilter -Name 'caf*' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'reports a file whose name does not match its filter' {
        $dir = Join-Path $TestEnv.TempDir 'mismatch'
        New-Item -ItemType Directory $dir | Out-Null
        Set-Content (Join-Path $dir 'one.xml') "<filter name='two'/>"
        { Import-NwFilter -LiteralPath $dir -ErrorAction Stop } | Should -Throw -ErrorId 'FilterFileNameMismatch,NwFilter.Commands.ImportNwFilterCommand'
    }

    It 'does nothing with -WhatIf' {
        Import-NwFilter -Xml "<filter name='whatif'/>" -WhatIf
        Get-NwFilter whatif -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
