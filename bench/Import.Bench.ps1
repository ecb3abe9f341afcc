# Benchmark: the cost of Import-Module NwFilter in a fresh process (work at import time is paid by every user).
# Run by `build.ps1 -Task Bench`; prints one result line for the table in bench/README.md.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$manifest = Join-Path $PSScriptRoot '../out/NwFilter/NwFilter.psd1'
$exe = [Environment]::ProcessPath
$pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
$probe = "`$c = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$manifest'; `$c.Elapsed.TotalMilliseconds"
$runs = 5
$ms = @(1..$runs | ForEach-Object { [double] (& $exe @pre -NoProfile -NonInteractive -Command $probe) } | Sort-Object)
'import: median {0:0.0} ms over {1} fresh processes (min {2:0.0}, max {3:0.0})' -f $ms[[int][math]::Floor($runs / 2)], $runs, $ms[0], $ms[-1]
