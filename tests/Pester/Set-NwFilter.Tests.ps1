BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    function Get-CanonicalWithoutUuid([object] $Filter) {
        (ConvertTo-NwFilterXml -InputObject $Filter) -replace '(?m)^  <uuid>.*</uuid>\r?\n', ''
    }
}
AfterAll { Remove-NwFilterTestEnvironment $script:TestEnv }

Describe 'Set-NwFilter' {
    It 'builds the seed''s test-eth0 from cmdlets alone, equal in meaning to its XML' {
        Set-NwFilter -Name test-eth0 -FilterRef clean-traffic -Rule @(
            New-NwFilterRule accept in tcp -DstPortStart 22
            New-NwFilterRule accept in tcp -Attribute @{ dstportstart = 80 }
            New-NwFilterRule accept out icmp
            New-NwFilterRule drop inout all
        )
        $seed = ConvertFrom-NwFilterXml -Path (Join-Path $TestEnv.Root 'demo/filters/test-eth0.xml')
        Get-CanonicalWithoutUuid (Get-NwFilter test-eth0) | Should -Be (Get-CanonicalWithoutUuid $seed)
    }

    It 'writes one canonical file per filter' {
        $file = Join-Path $TestEnv.ConfigDir 'test-eth0.xml'
        Get-Content -Raw -LiteralPath $file | Should -Be (Get-NwFilter test-eth0 -AsXml)
    }

    It 'keeps the uuid and what is not given when updating from parameters' {
        $before = Get-NwFilter test-eth0
        Set-NwFilter -Name test-eth0 -Priority 10 -Chain ipv4
        $after = Get-NwFilter test-eth0
        $after.Uuid | Should -Be $before.Uuid
        $after.Priority | Should -Be 10
        @($after.Rules).Count | Should -Be 4
        @($after.References).Filter | Should -Be 'clean-traffic'
        Set-NwFilter -Name test-eth0 -Chain root
        (Get-NwFilter test-eth0).Priority | Should -Be 0
    }

    It 'gives a new sub-chain its default priority' {
        Set-NwFilter -Name arp-check -Chain arp -PassThru | ForEach-Object Priority | Should -Be -500
    }

    It 'takes filter references as names, hashtables and objects' {
        $ref = [NwFilter.Core.Model.FilterReference]::new('allow-arp')
        $f = Set-NwFilter -Name refs -FilterRef 'allow-dhcp', @{ Filter = 'clean-traffic'; IP = '10.0.0.5', '10.0.0.6'; MAC = '52:54:00:00:00:01' }, $ref -PassThru
        @($f.References).Filter | Should -Be @('allow-dhcp', 'clean-traffic', 'allow-arp')
        @($f.References)[1].Parameters['IP'] | Should -Be @('10.0.0.5', '10.0.0.6')
        @($f.References)[1].Parameters['MAC'] | Should -Be @('52:54:00:00:00:01')
    }

    It 'refuses a bad filter reference parameter value at binding time' {
        { Set-NwFilter -Name refs -FilterRef @{ Filter = 'x'; IP = 'a b' } } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,NwFilter.Commands.SetNwFilterCommand'
    }

    It 'defines from XML, several documents at once, also from the pipeline' {
        $xml = "<filter name='x1'><rule action='accept' direction='in'/></filter>`n<filter name='x2' chain='ipv4'/>"
        $xml | Set-NwFilter
        (Get-NwFilter x1, x2).Name | Should -Be @('x1', 'x2')
        Get-Content -LiteralPath (Join-Path $TestEnv.ConfigDir 'x2.xml') | Set-NwFilter -PassThru | ForEach-Object Name | Should -Be 'x2'
    }

    It 'defines from files with -Path and -LiteralPath, and FileInfo from the pipeline' {
        $dir = Join-Path $TestEnv.TempDir 'in'
        New-Item -ItemType Directory $dir | Out-Null
        Set-Content -LiteralPath (Join-Path $dir 'p1.xml') -Value "<filter name='p1'/>"
        Set-Content -LiteralPath (Join-Path $dir 'p2.xml') -Value "<filter name='p2'/>"
        Set-NwFilter -Path (Join-Path $dir '*.xml')
        Get-ChildItem $dir | Set-NwFilter
        (Get-NwFilter p1, p2).Count | Should -Be 2
    }

    It 'defines FilterDefinition objects from the pipeline' {
        ConvertFrom-NwFilterXml -Xml "<filter name='o1'/>" | Set-NwFilter -PassThru | ForEach-Object Uuid | Should -Not -BeNullOrEmpty
    }

    It 'refuses strictly what is unknown, accepts it with -Lenient and a warning' {
        $bad = "<filter name='len'><rule action='accept' direction='in'><tcp dstport='22'/></rule></filter>"
        { Set-NwFilter -Xml $bad -ErrorAction Stop } | Should -Throw -ErrorId 'UnknownAttribute,NwFilter.Commands.SetNwFilterCommand'
        Set-NwFilter -Xml $bad -Lenient -WarningVariable w -WarningAction SilentlyContinue
        $w.Count | Should -BeGreaterThan 0
        Get-NwFilter len | Should -Not -BeNullOrEmpty
    }

    It 'refuses a loop with the cycle spelled out' {
        Set-NwFilter -Name la -FilterRef lc -WarningAction SilentlyContinue
        Set-NwFilter -Name lb -FilterRef la
        $err = { Set-NwFilter -Name lc -FilterRef lb -ErrorAction Stop } | Should -Throw -ErrorId 'FilterLoop,NwFilter.Commands.SetNwFilterCommand' -PassThru
        $err.Exception.Message | Should -BeLike '*lc -> lb -> la -> lc*'
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
    }

    It 'defines the documents of one text all or none: a later loop stores none of them' {
        Set-NwFilter -Name atom-a -Rule (New-NwFilterRule accept in tcp -DstPortStart 22)
        $before = Get-Content -Raw -LiteralPath (Join-Path $TestEnv.ConfigDir 'atom-a.xml')
        $xml = "<filter name='atom-new'/>`n<filter name='atom-b'><filterref filter='atom-a'/></filter>`n<filter name='atom-a'><filterref filter='atom-b'/></filter>"
        $err = { Set-NwFilter -Xml $xml -ErrorAction Stop } | Should -Throw -ErrorId 'FilterLoop,NwFilter.Commands.SetNwFilterCommand' -PassThru
        $err.Exception.Message | Should -BeLike '*atom-a -> atom-b -> atom-a*'
        Get-NwFilter atom-new, atom-b -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-Content -Raw -LiteralPath (Join-Path $TestEnv.ConfigDir 'atom-a.xml') | Should -BeExactly $before
    }

    It 'defines the documents of one file all or none: trailing garbage stores none of them' {
        $file = Join-Path $TestEnv.TempDir 'garbage.xml'
        Set-Content -LiteralPath $file -Value "<filter name='garbage-1'/>`n<filter name='garbage-2'/>`n<filter name="
        $errors = @()
        Set-NwFilter -LiteralPath $file -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike '*,NwFilter.Commands.SetNwFilterCommand'
        Get-NwFilter garbage-1, garbage-2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'warns about a reference to a filter that does not exist' {
        Set-NwFilter -Name dangling -FilterRef not-there -WarningVariable w -WarningAction SilentlyContinue
        "$w" | Should -BeLike "*'not-there'*does not exist*"
    }

    It 'refuses a uuid that belongs to another filter, and another uuid for an existing name' {
        $uuid = (Get-NwFilter test-eth0).Uuid
        { Set-NwFilter -Name other -Uuid $uuid -ErrorAction Stop } | Should -Throw -ErrorId 'UuidInUse,NwFilter.Commands.SetNwFilterCommand'
        { Set-NwFilter -Name test-eth0 -Uuid ([guid]::NewGuid()) -ErrorAction Stop } | Should -Throw -ErrorId 'FilterExistsWithOtherUuid,NwFilter.Commands.SetNwFilterCommand'
    }

    It 'refuses a name that could escape the store' {
        { Set-NwFilter -Name '../evil' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidFilterName,NwFilter.Commands.SetNwFilterCommand'
        Test-Path (Join-Path $TestEnv.TempDir 'evil.xml') | Should -BeFalse
    }

    It 'shadows a built-in filter, keeping its uuid' {
        $builtIn = Get-NwFilter allow-ipv4
        Set-NwFilter -Name allow-ipv4 -Rule (New-NwFilterRule accept out) -PassThru | ForEach-Object Uuid | Should -Be $builtIn.Uuid
        (Get-NwFilter allow-ipv4).Origin | Should -Be 'Redefined'
    }

    It 'does nothing with -WhatIf' {
        Set-NwFilter -Name whatif-only -WhatIf
        Get-NwFilter whatif-only -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'leaves no temporary file behind' {
        @(Get-ChildItem -Force -LiteralPath $TestEnv.ConfigDir | Where-Object Name -like '*.tmp').Count | Should -Be 0
    }
}
