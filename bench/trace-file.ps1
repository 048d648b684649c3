#Requires -Version 7.4

<#
.SYNOPSIS
    Trace files: how fast Start-UTrace -OutFile records and how fast Import-UTrace reads back.

.DESCRIPTION
    Compiles the fib fixture (tests/fixtures/fib.c, gcc -O2) and, each round, records
    `fib -Fib` with every function traced into a trace file, with no object per event
    (Start-UTrace -OutFile). It reports the recording's wall time and the events recorded and
    dropped (a round that drops anything, or whose file does not hold every recorded event,
    FAILED), then times reading the file back two ways: `Import-UTrace | Out-Null` (the
    PowerShell pipeline, one CallEvent object per call) and the engine's
    Utrace.TraceFile.ReadEvents() counted in C# (no pipeline). The last column is the same
    pipeline cost without Utrace: `1..N | ForEach-Object {} | Out-Null` for as many objects,
    so a busy machine shows as a slow baseline.
#>
param(
    # fib's argument: fib(30) makes 2,692,537 calls of fib.
    [ValidateRange(10, 35)]
    [int] $Fib = 30,

    [ValidateRange(1, 20)]
    [int] $Rounds = 3,

    [string] $OutFile = (Join-Path $PSScriptRoot 'results/trace-file.md'),

    [switch] $KeepTemp
)

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchHost -Tool gcc -Packages gcc
$startedAt = Get-Date
$loadBefore = Get-LoadAverage
$temp = New-BenchWorkspace -Prefix 'utrace-bench-file'
try {
    $fixtures = Join-Path (Split-Path $PSScriptRoot -Parent) 'tests/fixtures'
    $program = Join-Path $temp 'fib'
    & gcc -O2 -o $program (Join-Path $fixtures 'fib.c') -I $fixtures
    if ($LASTEXITCODE) { throw 'Compiling the fib fixture failed.' }
    $file = Join-Path $temp 'fib.arrow'
    $rows = @(); $failures = @()
    foreach ($round in 1..$Rounds) {
        $record = Measure-Command { Start-UTrace -Command "$program $Fib" -OutFile $file -SummaryVariable summary | Out-Null }
        $n = $summary.EventsRecorded
        $import = Measure-Command { Import-UTrace $file | Out-Null }
        $engine = Measure-Command {
            $trace = [Utrace.TraceFile]::Open($file)
            $read = [Linq.Enumerable]::LongCount($trace.ReadEvents())
            $trace.Dispose()
        }
        $baseline = Measure-Command { 1..$n | ForEach-Object {} | Out-Null }
        $problems = @(
            if ($summary.EventsDropped) { "$($summary.EventsDropped) dropped" }
            if ($read -ne $n) { "the file holds $read events, the summary says $n" }
        )
        $result = [pscustomobject]@{
            Ok = -not $problems; Problems = $problems -join '; '; Events = $n; MB = (Get-Item $file).Length / 1MB
            RecordS = $record.TotalSeconds; ImportRate = $n / $import.TotalSeconds / 1e6
            EngineRate = $n / $engine.TotalSeconds / 1e6; BaselineRate = $n / $baseline.TotalSeconds / 1e6
        }
        Write-RoundLine ("round {0}: {1:N0} events ({2:N0} MB) recorded in {3:N2} s; Import-UTrace|Out-Null {4:N2} M/s, TraceFile.ReadEvents {5:N2} M/s, 1..N|ForEach-Object{{}}|Out-Null {6:N2} M/s" -f
            $round, $n, $result.MB, $result.RecordS, $result.ImportRate, $result.EngineRate, $result.BaselineRate) $result
        if ($result.Ok) { $rows += $result } else { $failures += "round ${round}: $($result.Problems)" }
    }

    $md = ConvertTo-ResultMarkdown -Title 'Trace file' -StartedAt $startedAt -LoadBefore $loadBefore -Tools "gcc -O2 fib $Fib"
    $null = $md.AppendLine().AppendLine("Median (min-max) of $($rows.Count) rounds; rates in million events per second.").AppendLine()
    $null = $md.AppendLine('| events | file MB | record (s) | Import-UTrace \| Out-Null | TraceFile.ReadEvents (C#) | 1..N \| ForEach-Object {} \| Out-Null |')
    $null = $md.AppendLine('| --- | --- | --- | --- | --- | --- |')
    if ($rows) {
        $cells = foreach ($column in 'RecordS', 'ImportRate', 'EngineRate', 'BaselineRate') {
            $s = Get-Statistic $rows.$column
            '{0} ({1}-{2})' -f (Format-Figure $s.Median), (Format-Figure $s.Min), (Format-Figure $s.Max)
        }
        $null = $md.AppendLine("| $('{0:N0}' -f $rows[0].Events) | $(Format-Figure $rows[0].MB) | $($cells -join ' | ') |")
    }
    Add-FailedRound $md $failures
    Save-Result $md $OutFile $failures.Count
}
finally {
    Remove-BenchWorkspace $temp -Keep:$KeepTemp
}
if ($failures) { exit 1 }
