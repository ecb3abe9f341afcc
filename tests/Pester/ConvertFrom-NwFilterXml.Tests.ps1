Set-StrictMode -Version Latest

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Env = Initialize-NwFilterTestEnvironment
    $script:Data = Join-Path $Env.Root 'tests/data/xml'
    $script:Ssh = "<filter name='allow-ssh'><rule action='accept' direction='in'><tcp dstportstart='22'/></rule></filter>"
}
AfterAll { Remove-NwFilterTestEnvironment $script:Env }

Describe 'ConvertFrom-NwFilterXml' {
    Context 'from strings' {
        It 'returns a typed, immutable filter with its rules' {
            $f = ConvertFrom-NwFilterXml -Xml $Ssh
            $f | Should -BeOfType ([NwFilter.Core.Model.FilterDefinition])
            $f.Name | Should -Be 'allow-ssh'
            $f.Chain | Should -Be 'root'
            @($f.Rules).Count | Should -Be 1
            $rule = @($f.Rules)[0]
            $rule.Protocol | Should -Be ([NwFilter.Core.Model.ProtocolKind]::Tcp)
            $rule.Priority | Should -Be 500
            $rule[[NwFilter.Core.Model.AttributeId]::DstPortStart].Literal.Number | Should -Be 22
            # init-only properties: no setter a script can call
            { $f.Name = 'other' } | Should -Throw
            { $rule.Priority = 1 } | Should -Throw
            $rule.Priority | Should -Be 500
        }

        It 'joins the lines of Get-Content into one document' {
            $path = Join-Path $Data 'filters/filterrefs.xml'
            $fromLines = Get-Content -LiteralPath $path | ConvertFrom-NwFilterXml
            $fromFile = ConvertFrom-NwFilterXml -LiteralPath $path
            @($fromLines).Count | Should -Be 1
            ($fromLines | ConvertTo-NwFilterXml) | Should -BeExactly ($fromFile | ConvertTo-NwFilterXml)
        }

        It 'reads several documents given as several strings' {
            $two = @($Ssh, "<filter name='second' chain='ipv4'/>") | ConvertFrom-NwFilterXml
            $two.Name | Should -Be @('allow-ssh', 'second')
        }

        It 'returns a binding for a filterbinding document' {
            $b = ConvertFrom-NwFilterXml -LiteralPath (Join-Path $Data 'bindings/linkdev.xml')
            $b | Should -BeOfType ([NwFilter.Core.Model.FilterBinding])
            $b.PortDevice | Should -Be 'macvtap0'
            $b.LinkDevice | Should -Be 'eth0'
            $b.Filter | Should -Be 'clean-traffic'
            $b.Parameters['IP'] | Should -Be @('10.0.0.9', '10.0.0.8')
        }
    }

    Context 'from files' {
        It 'expands wildcards in -Path' {
            $all = ConvertFrom-NwFilterXml -Path (Join-Path $Data 'filters/*.out.xml')
            @($all).Count | Should -Be @(Get-ChildItem (Join-Path $Data 'filters/*.out.xml')).Count
        }

        It 'binds FileInfo objects from the pipeline to -LiteralPath' {
            $files = Get-ChildItem (Join-Path $Data 'filters') -Filter 'l4*.out.xml'
            $read = $files | ConvertFrom-NwFilterXml
            @($read).Count | Should -Be $files.Count
        }

        It 'reads every document of a file that holds several, as virsh nwfilter-dumpxml of several filters prints' {
            $path = Join-Path $TestDrive 'dump.txt'
            Set-Content -LiteralPath $path -Value @("<filter name='one' chain='root'/>", '', "<filter name='two' chain='ipv4'>", '</filter>', '<filter name=''bad'' chain=''nope''/>')
            $read = ConvertFrom-NwFilterXml -LiteralPath $path -ErrorVariable errs -ErrorAction SilentlyContinue
            $read.Name | Should -Be @('one', 'two')
            $errs.Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'InvalidChainName,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
            $errs[0].Exception.Message | Should -Match 'document at line 5'
        }

        It 'reports a missing file as ObjectNotFound and goes on with the rest' {
            $good = Join-Path $Data 'filters/mac.xml'
            $out = ConvertFrom-NwFilterXml -LiteralPath (Join-Path $TestDrive 'nope.xml'), $good -ErrorVariable errs -ErrorAction SilentlyContinue
            @($out).Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'PathNotFound,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }
    }

    Context 'bad input' {
        It 'refuses a device, a FIFO and invalid UTF-8 at once with their own ids, and goes on with the rest' {
            $fifo = Join-Path $TestDrive 'pipe.xml'
            & mkfifo $fifo
            $latin1 = Join-Path $TestDrive 'latin1.xml'
            [IO.File]::WriteAllBytes($latin1, [byte[]] @([Text.Encoding]::ASCII.GetBytes("<filter name='caf") + 0xE9 + [Text.Encoding]::ASCII.GetBytes("'/>")))
            $good = Join-Path $Data 'filters/mac.xml'
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $out = ConvertFrom-NwFilterXml -LiteralPath '/dev/zero', $fifo, $latin1, $good -ErrorVariable errs -ErrorAction SilentlyContinue
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
            @($out).Count | Should -Be 1
            $errs.FullyQualifiedErrorId | Should -Be @(
                'NotARegularFile,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
                'NotARegularFile,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
                'InvalidEncoding,NwFilter.Commands.ConvertFromNwFilterXmlCommand')
            $errs[2].Exception.Message | Should -BeLike '*byte offset 17*'
            $errs[2].TargetObject | Should -Be $latin1
        }

        It 'refuses an unknown attribute by default, naming the file, element, attribute and value' {
            $path = Join-Path $TestDrive 'typo.xml'
            Set-Content -LiteralPath $path -Value "<filter name='t'><rule action='accept' direction='in'><tcp dstporttstart='22'/></rule></filter>"
            $out = ConvertFrom-NwFilterXml -LiteralPath $path -ErrorVariable errs -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $errs.Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'UnknownAttribute,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $errs[0].TargetObject | Should -Be $path
            $errs[0].Exception.Message | Should -Match ([regex]::Escape($path))
            $errs[0].Exception.Message | Should -Match 'dstporttstart'
            $errs[0].Exception.Message | Should -Match 'tcp'
        }

        It 'accepts the unknown attribute with a warning when -Lenient' {
            $xml = "<filter name='t'><rule action='accept' direction='in'><tcp dstporttstart='22'/></rule></filter>"
            $f = ConvertFrom-NwFilterXml -Xml $xml -Lenient -WarningVariable warns -WarningAction SilentlyContinue
            $f.Name | Should -Be 't'
            @($warns).Count | Should -BeGreaterThan 0
            "$($warns[0])" | Should -Match 'dstporttstart'
        }

        It 'refuses a bad value with InvalidAttributeValue naming the value' {
            $xml = "<filter name='t'><rule action='drop' direction='out'><ip srcipaddr='10.0.0.300'/></rule></filter>"
            ConvertFrom-NwFilterXml -Xml $xml -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $errs[0].FullyQualifiedErrorId | Should -Be 'InvalidAttributeValue,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
            $errs[0].Exception.Message | Should -Match '10\.0\.0\.300'
            $errs[0].Exception.Message | Should -Match 'srcipaddr'
        }

        It 'refuses a document with a DTD' {
            $xml = "<?xml version='1.0'?><!DOCTYPE filter [<!ENTITY x 'y'>]><filter name='&x;'/>"
            ConvertFrom-NwFilterXml -Xml $xml -ErrorVariable errs -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $errs[0].FullyQualifiedErrorId | Should -Be 'DtdProhibited,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
        }

        It 'writes one error per bad document and still returns the good ones' {
            $out = @("<filter/>", $Ssh, "<rule/>") | ConvertFrom-NwFilterXml -ErrorVariable errs -ErrorAction SilentlyContinue
            @($out).Name | Should -Be 'allow-ssh'
            $errs.Count | Should -Be 2
        }

        It 'terminates under -ErrorAction Stop' {
            { ConvertFrom-NwFilterXml -Xml '<filter' -ErrorAction Stop } | Should -Throw -ErrorId 'MalformedXml,NwFilter.Commands.ConvertFromNwFilterXmlCommand'
        }
    }
}
