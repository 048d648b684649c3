#Requires -Version 7.4

<#
.SYNOPSIS
    p99 latency per function over a trace of 10 M+ calls: Invoke-UTraceQuery (SQL, DuckDB embedded)
    against the PowerShell pipeline, Import-UTrace | Group-Object Function | ForEach-Object { p99 },
    on the same file.

.DESCRIPTION
    Compiles the fib fixture (tests/fixtures/fib.c, gcc -O2) and records fib <Fib> with
    Start-UTrace -OutFile (every function; fib(33) makes 11,405,773 calls of fib, the trace holds
    those and the handful of main, printf, ...). The recording FAILS the run if anything was
    dropped. Then, each round, two fresh pwsh processes, each timing one step from the module
    already imported (the rate includes reading the file, which each side must do):
      1. sql: Invoke-UTraceQuery 'SELECT function, count(*), quantile_disc(duration, 0.99) ...
         GROUP BY function' <file>: DuckDB loads the file (Arrow C stream, batch by batch) and
         answers;
      2. pipeline: Import-UTrace <file> | Group-Object Function | ForEach-Object { the p99 of
         the group's DurationNs }, the percentile taken the same way (sorted with
         [Array]::Sort, the value of rank ceiling(0.99 n), as DuckDB's quantile_disc), so that
         the pipeline, not the arithmetic, is what is measured.
    The two answers must agree, function by function, or the round FAILS. Rates are calls per
    second of wall time; the ratios are pipeline time over SQL time, in wall time and in CPU
    time (the steadier figure on a shared machine). Each step's peak RSS
    (VmHWM) is reported too: Group-Object holds every call.

    -TraceFile reuses a trace of fib <Fib> recorded before (recording fib 33 takes minutes on
    a busy machine), such as the one bench/trace-file.ps1 -KeepTemp leaves; its calls are
    then counted by the SQL side, and the pipeline must count as many.

    -PipelineFib records a second, smaller trace for the pipeline side when 10 M calls through
    Group-Object do not fit the machine's memory or time; the results then say so, and the
    ratio compares rates (calls per second), an extrapolation that assumes the pipeline's rate
    does not grow with the trace (it does not: it falls as Group-Object's groups grow).

.EXAMPLE
    sudo pwsh bench/sql.ps1

.EXAMPLE
    pwsh bench/sql.ps1 -Fib 30 -Rounds 1 -OutFile /tmp/sql.md
#>
param(
    # fib's argument: fib(33) makes 11,405,773 calls, fib(30) 2,692,537.
    [ValidateRange(10, 35)]
    [int] $Fib = 33,

    # fib's argument for the pipeline side's own trace; by default the same file as the SQL side.
    [ValidateRange(10, 35)]
    [int] $PipelineFib = $Fib,

    [ValidateRange(1, 20)]
    [int] $Rounds = 3,

    # A trace of fib <Fib> recorded before, used instead of recording one.
    [string] $TraceFile,

    [string] $OutFile = (Join-Path $PSScriptRoot 'results/sql.md'),

    [switch] $KeepTemp
)

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchHost -Tool gcc -Packages gcc
$startedAt = Get-Date
$loadBefore = Get-LoadAverage
$temp = New-BenchWorkspace -Prefix 'utrace-bench-sql'

# One step in a fresh pwsh: prints one JSON line with the step's answer (function -> p99 ns, and calls), wall seconds and VmHWM.
$stepScript = @'
param([string] $Module, [string] $Step, [string] $File, [string] $Command)
$ErrorActionPreference = 'Stop'
Import-Module $Module
$process = [Diagnostics.Process]::GetCurrentProcess()
$cpu = $process.TotalProcessorTime
$clock = [Diagnostics.Stopwatch]::StartNew()
$answer = switch ($Step) {
    'record' {
        Start-UTrace -Command $Command -OutFile $File -SummaryVariable s | Out-Null
        @{ Recorded = $s.EventsRecorded; Dropped = $s.EventsDropped }
    }
    'sql' {
        $p99 = @{}; $calls = 0L
        foreach ($row in Invoke-UTraceQuery 'SELECT function, count(*) AS calls, quantile_disc(duration, 0.99) AS p99 FROM calls GROUP BY function' $File) {
            $p99[$row.function] = $row.p99; $calls += $row.calls
        }
        @{ P99 = $p99; Calls = $calls }
    }
    'pipeline' {
        $p99 = @{}; $calls = 0L
        Import-UTrace $File | Group-Object Function | ForEach-Object {
            [long[]] $durations = $_.Group.DurationNs
            [Array]::Sort($durations)
            $p99[$_.Name] = $durations[[math]::Ceiling(0.99 * $durations.Count) - 1]
            $calls += $durations.Count
        }
        @{ P99 = $p99; Calls = $calls }
    }
}
$answer.Wall = $clock.Elapsed.TotalSeconds
$process.Refresh()
$answer.Cpu = ($process.TotalProcessorTime - $cpu).TotalSeconds
$answer.PeakRssMB = [double]((Select-String -Path "/proc/$PID/status" -Pattern '^VmHWM:\s+(\d+)').Matches[0].Groups[1].Value) / 1024
$answer | ConvertTo-Json -Compress
'@

try {
    $fixtures = Join-Path (Split-Path $PSScriptRoot -Parent) 'tests/fixtures'
    $program = Join-Path $temp 'fib'
    & gcc -O2 -o $program (Join-Path $fixtures 'fib.c') -I $fixtures
    if ($LASTEXITCODE) { throw 'Compiling the fib fixture failed.' }
    $stepFile = Join-Path $temp 'step.ps1'
    Set-Content -LiteralPath $stepFile -Value $stepScript
    $module = Join-Path $temp 'module/Utrace.psd1'
    $pwsh = (Get-Command pwsh -CommandType Application | Select-Object -First 1).Source

    function Invoke-Step([string] $Step, [string] $File, [int] $Argument) {
        $line = & $pwsh -NoProfile -NonInteractive -File $stepFile -Module $module -Step $Step -File $File -Command "$program $Argument"
        if ($LASTEXITCODE) { throw "The $Step step failed: $line" }
        $line | Select-Object -Last 1 | ConvertFrom-Json -AsHashtable
    }

    # The traces: recorded once, read by every round.
    $files = @{}
    $recordings = foreach ($argument in @($Fib, $PipelineFib) | Select-Object -Unique) {
        if ($TraceFile -and $argument -eq $Fib) {
            $files[$argument] = (Resolve-Path -LiteralPath $TraceFile).ProviderPath
            $count = (Invoke-UTraceQuery 'SELECT count(*) AS calls FROM calls' -LiteralPath $files[$argument]).calls
            [pscustomobject]@{ Fib = $argument; Calls = $count; MB = (Get-Item $files[$argument]).Length / 1MB; Seconds = $null }
            continue
        }
        $file = Join-Path $temp "fib$argument.arrow"
        $record = Invoke-Step record $file $argument
        if ($record.Dropped) { throw "Recording fib $argument dropped $($record.Dropped) events: the trace is incomplete." }
        $files[$argument] = $file
        Write-Information ("fib {0}: {1:N0} calls recorded in {2:N1} s, {3:N0} MB" -f $argument, $record.Recorded, $record.Wall, ((Get-Item $file).Length / 1MB)) -InformationAction Continue
        [pscustomobject]@{ Fib = $argument; Calls = [long]$record.Recorded; MB = (Get-Item $file).Length / 1MB; Seconds = $record.Wall }
    }
    $sameFile = $PipelineFib -eq $Fib

    $all = @(); $rows = @(); $failures = @()
    foreach ($round in 1..$Rounds) {
        $sql = Invoke-Step sql $files[$Fib] 0
        $pipeline = Invoke-Step pipeline $files[$PipelineFib] 0
        $problems = @(
            if ($sameFile) {
                foreach ($name in $sql.P99.Keys) {
                    if ($pipeline.P99[$name] -ne $sql.P99[$name]) { "p99 of $name`: SQL $($sql.P99[$name]), pipeline $($pipeline.P99[$name])" }
                }
                if ($pipeline.P99.Count -ne $sql.P99.Count) { "SQL gave $($sql.P99.Count) functions, the pipeline $($pipeline.P99.Count)" }
            }
            foreach ($side in @{ Name = 'SQL'; Step = $sql; Fib = $Fib }, @{ Name = 'pipeline'; Step = $pipeline; Fib = $PipelineFib }) {
                $expected = ($recordings | Where-Object Fib -EQ $side.Fib).Calls
                if ($side.Step.Calls -ne $expected) { "$($side.Name) counted $($side.Step.Calls) calls, the recording $expected" }
            }
        )
        $result = [pscustomobject]@{
            Round = $round; Ok = -not $problems; Problems = $problems -join '; '
            SqlS = $sql.Wall; SqlRate = $sql.Calls / $sql.Wall / 1e6; SqlCpu = $sql.Cpu; SqlRss = $sql.PeakRssMB
            PipelineS = $pipeline.Wall; PipelineRate = $pipeline.Calls / $pipeline.Wall / 1e6; PipelineCpu = $pipeline.Cpu; PipelineRss = $pipeline.PeakRssMB
        }
        $result | Add-Member Ratio ($result.SqlRate / $result.PipelineRate)
        $result | Add-Member CpuRatio (($pipeline.Cpu / $pipeline.Calls) / ($sql.Cpu / $sql.Calls))
        Write-RoundLine ("round {0}: SQL {1:N2} s, {2:N2} CPU s ({3:N2} M calls/s, peak RSS {4:N0} MB); pipeline {5:N2} s, {6:N2} CPU s ({7:N3} M calls/s, peak RSS {8:N0} MB); SQL {9:N1}x faster ({10:N1}x in CPU time)" -f
            $round, $result.SqlS, $result.SqlCpu, $result.SqlRate, $result.SqlRss, $result.PipelineS, $result.PipelineCpu, $result.PipelineRate, $result.PipelineRss, $result.Ratio, $result.CpuRatio) $result
        $all += $result
        if ($result.Ok) { $rows += $result } else { $failures += "round ${round}: $($result.Problems)" }
    }

    $md = ConvertTo-ResultMarkdown -Title 'SQL' -StartedAt $startedAt -LoadBefore $loadBefore -Tools "gcc -O2 fib $Fib" -WithMemory
    foreach ($recording in $recordings) {
        $recorded = if ($null -ne $recording.Seconds) { "recorded by Start-UTrace -OutFile in $(Format-Figure $recording.Seconds) s" } else { "recorded before this run by Start-UTrace -OutFile (-TraceFile)" }
        $null = $md.AppendLine("- Trace: fib $($recording.Fib), $('{0:N0}' -f $recording.Calls) calls, $(Format-Figure $recording.MB) MB, $recorded")
    }
    $null = $md.AppendLine().AppendLine("p99 latency per function. Median (min-max) of $($rows.Count) rounds; each step in a fresh pwsh with the module imported, the file read by the step (page cache warm). Rates in million calls per second of wall time; x = SQL's rate over the pipeline's, in wall time and in CPU time (user + system of the step's pwsh: on a shared machine the steadier figure).")
    if (-not $sameFile) {
        $null = $md.AppendLine("The pipeline side ran on its own, smaller trace (fib $PipelineFib): its rate is extrapolated to the SQL side's trace, assuming it does not grow with the trace's size.")
    }
    $null = $md.AppendLine()
    $columns = [ordered]@{
        'Invoke-UTraceQuery (s)' = 'SqlS'; 'SQL CPU s' = 'SqlCpu'; 'SQL M calls/s' = 'SqlRate'; 'SQL peak RSS (MB)' = 'SqlRss'
        'Import-UTrace \| Group-Object (s)' = 'PipelineS'; 'pipeline CPU s' = 'PipelineCpu'; 'pipeline M calls/s' = 'PipelineRate'; 'pipeline peak RSS (MB)' = 'PipelineRss'
        'x faster' = 'Ratio'; 'x faster in CPU time' = 'CpuRatio'
    }
    $format = { param([string] $Column, [double] $Value) if ($Column -match 'Rate') { '{0:N3}' -f $Value } else { Format-Figure $Value } }
    Add-RoundTable $md ([ordered]@{ 'calls' = '{0:N0}' -f ($recordings | Where-Object Fib -EQ $Fib).Calls }) $columns $rows $all $failures $format
    Save-Result $md $OutFile $failures.Count
}
finally {
    Remove-BenchWorkspace $temp -Keep:$KeepTemp
}
if ($failures) { exit 1 }
