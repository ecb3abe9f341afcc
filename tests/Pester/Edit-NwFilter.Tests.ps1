BeforeAll {
    Set-StrictMode -Version Latest
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:TestEnv = Initialize-NwFilterTestEnvironment
    $script:SavedEditor = $env:EDITOR, $env:VISUAL
    $env:VISUAL = $null

    function New-EditorScript([string] $Name, [string] $Body) {
        # An "editor" is a shell script that changes the file given as its last argument.
        $path = Join-Path $TestEnv.TempDir $Name
        Set-Content -LiteralPath $path -Value "#!/bin/sh`n$Body"
        chmod +x $path
        $path
    }
}
AfterAll {
    $env:EDITOR, $env:VISUAL = $script:SavedEditor
    Remove-NwFilterTestEnvironment $script:TestEnv
}

Describe 'Edit-NwFilter' {
    BeforeEach {
        Set-NwFilter -Name ssh -Rule (New-NwFilterRule accept in tcp -DstPortStart 22)
    }

    It 'defines what the editor saved' {
        $env:EDITOR = New-EditorScript 'port.sh' 'sed -i "s/dstportstart=.22./dstportstart=''2222''/" "$1"'
        $f = Edit-NwFilter ssh -PassThru
        $f.Rules[0].Attributes[0].Value.Text | Should -Be '2222'
        (Get-NwFilter ssh -AsXml) | Should -BeLike "*dstportstart='2222'*"
    }

    It 'keeps the uuid' {
        $uuid = (Get-NwFilter ssh).Uuid
        $env:EDITOR = New-EditorScript 'prio.sh' 'sed -i "s/priority=.500./priority=''100''/" "$1"'
        Edit-NwFilter ssh
        (Get-NwFilter ssh).Uuid | Should -Be $uuid
    }

    It 'passes options in the editor command through the shell' {
        $script = New-EditorScript 'args.sh' 'test "$1" = "--flag" && sed -i "s/accept/drop/" "$2"'
        $env:EDITOR = "$script --flag"
        Edit-NwFilter ssh
        (Get-NwFilter ssh).Rules[0].Action | Should -Be 'Drop'
    }

    It 'changes nothing when the file is not changed' {
        $env:EDITOR = 'true'
        $before = Get-Item -LiteralPath (Join-Path $TestEnv.ConfigDir 'ssh.xml')
        Edit-NwFilter ssh -InformationVariable info
        "$info" | Should -BeLike '*not changed*'
        (Get-Item -LiteralPath (Join-Path $TestEnv.ConfigDir 'ssh.xml')).LastWriteTimeUtc | Should -Be $before.LastWriteTimeUtc
    }

    It 'with -Force, edits again after an invalid save until it is valid' {
        $count = Join-Path $TestEnv.TempDir 'count'
        Remove-Item -LiteralPath $count -ErrorAction SilentlyContinue
        # First run: write an invalid direction. Second run: fix it to a valid change.
        $env:EDITOR = New-EditorScript 'twice.sh' @"
if [ -e '$count' ]; then sed -i "s/sideways/out/" "`$1"; else touch '$count'; sed -i "s/direction=.in./direction='sideways'/" "`$1"; fi
"@
        Edit-NwFilter ssh -Force -InformationAction SilentlyContinue
        (Get-NwFilter ssh).Rules[0].Direction | Should -Be 'Out'
    }

    It 'gives up with the error when the editor leaves an invalid file as it was' {
        $env:EDITOR = New-EditorScript 'bad.sh' 'sed -i "s/direction=.in./direction=''sideways''/" "$1"'
        { Edit-NwFilter ssh -Force -InformationAction SilentlyContinue -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidAttributeValue,NwFilter.Commands.EditNwFilterCommand'
        (Get-NwFilter ssh).Rules[0].Direction | Should -Be 'In'
    }

    It 'gives up when the user cannot be asked (non-interactive host)' {
        $env:EDITOR = New-EditorScript 'bad2.sh' 'sed -i "s/action=.accept./action=''maybe''/" "$1"'
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$((Get-Module NwFilter).Path)'; Edit-NwFilter ssh -InformationAction SilentlyContinue")
            $null = $ps.Invoke()
            $ps.Streams.Error.Count | Should -Be 1
            $ps.Streams.Error[0].FullyQualifiedErrorId | Should -Be 'InvalidAttributeValue,NwFilter.Commands.EditNwFilterCommand'
        }
        finally { $ps.Dispose() }
        (Get-NwFilter ssh).Rules[0].Action | Should -Be 'Accept'
    }

    It 'reports an editor that fails' {
        $env:EDITOR = 'false'
        { Edit-NwFilter ssh -ErrorAction Stop } | Should -Throw -ErrorId 'EditorFailed,NwFilter.Commands.EditNwFilterCommand'
    }

    It 'writes FilterNotFound for an unknown filter' {
        { Edit-NwFilter nope -ErrorAction Stop } | Should -Throw -ErrorId 'FilterNotFound,NwFilter.Commands.EditNwFilterCommand'
    }

    It 'prefers VISUAL to EDITOR' {
        $env:EDITOR = 'false'
        $env:VISUAL = New-EditorScript 'visual.sh' 'sed -i "s/accept/reject/" "$1"'
        try { Edit-NwFilter ssh }
        finally { $env:VISUAL = $null }
        (Get-NwFilter ssh).Rules[0].Action | Should -Be 'Reject'
    }
}
