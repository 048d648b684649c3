#Requires -Version 7.4

<#
.SYNOPSIS
    Trace files: recording with Start-UTrace -OutFile, reading back with Import-UTrace, and
    summarizing with Measure-UTrace -Path; speed and the peak memory (RSS) of pwsh.

.DESCRIPTION
    Compiles the fib fixture (tests/fixtures/fib.c, gcc -O2). Each round runs four fresh pwsh
    processes, so that each one's peak RSS (VmHWM in /proc/PID/status, read at its end) belongs
    to one job:
      1. record: Start-UTrace -Command "fib <Fib>" -OutFile <file>, every function, no object
         per event; the round FAILS if anything was dropped or the file holds fewer events;
      2. import: Import-UTrace <file> | Out-Null, one CallEvent per call through the pipeline;
      3. ceiling: a bare compiled cmdlet (made here with Add-Type) that WriteObject's one prebuilt
         object as many times as the file has events, | Out-Null: what PowerShell's pipeline
         alone costs per object on this machine now, the ceiling for step 2;
      4. summarize: Measure-UTrace -Path <file>, which aggregates the file's columns with no
         object per call; run twice in the same pwsh, since the first run also pays for JIT and
         for the background compiling that follows pwsh's start.
    Rates are events per second of wall time and of CPU time (user + system of the process
    while the step ran, from TotalProcessorTime; for Measure-UTrace's second run also of the
    pipeline thread alone, from /proc/thread-self/stat): on a shared machine the CPU rates are
    the steadier figures. A last column counts the engine's TraceFile.ReadEvents() in C#.
    Results (median, min and max, then every round) go to -OutFile as Markdown.

.EXAMPLE
    sudo pwsh bench/trace-file.ps1

.EXAMPLE
    pwsh bench/trace-file.ps1 -Fib 30 -Rounds 2 -OutFile /tmp/trace-file.md
#>
param(
    # fib's argument: fib(33) makes 11,405,773 calls of fib, fib(30) 2,692,537.
    [ValidateRange(10, 35)]
    [int] $Fib = 33,

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

# One step in a fresh pwsh: prints one JSON line with the step's result, wall and CPU seconds, and the process's VmHWM.
$stepScript = @'
param([string] $Module, [string] $Step, [string] $File, [string] $Command, [long] $Count)
$ErrorActionPreference = 'Stop'
Import-Module $Module
if ($Step -eq 'ceiling') {
    Add-Type -TypeDefinition @"
using System.Management.Automation;
[Cmdlet(VerbsCommunications.Write, "SameObject")]
public sealed class WriteSameObjectCommand : PSCmdlet
{
    [Parameter(Mandatory = true)] public long Count { get; set; }
    protected override void EndProcessing()
    {
        var item = new object();
        for (long i = 0; i < Count; i++) WriteObject(item);
    }
}
"@ -PassThru | Select-Object -First 1 | ForEach-Object { Import-Module -Assembly $_.Assembly }
}
$process = [Diagnostics.Process]::GetCurrentProcess()
$cold = @{}
if ($Step -eq 'summarize') {
    # Twice: the first run also pays for JIT and for the background compiling that follows pwsh's start.
    $cpu = $process.TotalProcessorTime
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $null = Measure-UTrace -Path $File
    $cold.ColdWall = $clock.Elapsed.TotalSeconds
    $process.Refresh()
    $cold.ColdCpu = ($process.TotalProcessorTime - $cpu).TotalSeconds
}
# CPU time of this thread, the pipeline's, alone (utime + stime in clock ticks): no JIT or GC threads in it.
function Get-ThreadCpu { $f = (Get-Content /proc/thread-self/stat -Raw).Split(')')[1].Trim().Split(' '); ([double]$f[11] + [double]$f[12]) / 100 }
$cpu = $process.TotalProcessorTime
$threadCpu = Get-ThreadCpu
$clock = [Diagnostics.Stopwatch]::StartNew()
$value = switch ($Step) {
    'record' { Start-UTrace -Command $Command -OutFile $File -SummaryVariable s | Out-Null; @{ Recorded = $s.EventsRecorded; Dropped = $s.EventsDropped } }
    'import' { Import-UTrace $File | Out-Null; @{} }
    'ceiling' { Write-SameObject -Count $Count | Out-Null; @{} }
    'summarize' { $rows = @(Measure-UTrace -Path $File); @{ Calls = ($rows | Measure-Object Calls -Sum).Sum } }
    'engine' { $t = [Utrace.TraceFile]::Open($File); try { @{ Read = [Linq.Enumerable]::LongCount($t.ReadEvents()) } } finally { $t.Dispose() } }
}
$wall = $clock.Elapsed.TotalSeconds
$process.Refresh()
$value += $cold
$value.Wall = $wall
$value.Cpu = ($process.TotalProcessorTime - $cpu).TotalSeconds
$value.ThreadCpu = (Get-ThreadCpu) - $threadCpu
$value.PeakRssMB = [double]((Select-String -Path "/proc/$PID/status" -Pattern '^VmHWM:\s+(\d+)').Matches[0].Groups[1].Value) / 1024
$value | ConvertTo-Json -Compress
'@

try {
    $fixtures = Join-Path (Split-Path $PSScriptRoot -Parent) 'tests/fixtures'
    $program = Join-Path $temp 'fib'
    & gcc -O2 -o $program (Join-Path $fixtures 'fib.c') -I $fixtures
    if ($LASTEXITCODE) { throw 'Compiling the fib fixture failed.' }
    $stepFile = Join-Path $temp 'step.ps1'
    Set-Content -LiteralPath $stepFile -Value $stepScript
    $module = Join-Path $temp 'module/Utrace.psd1'
    $file = Join-Path $temp 'fib.arrow'
    # The pwsh on PATH (for a dotnet global tool, a launcher; $PID inside is the real process).
    $pwsh = (Get-Command pwsh -CommandType Application | Select-Object -First 1).Source

    function Invoke-Step([string] $Step, [long] $Count = 0) {
        $line = & $pwsh -NoProfile -NonInteractive -File $stepFile -Module $module -Step $Step -File $file -Command "$program $Fib" -Count $Count
        if ($LASTEXITCODE) { throw "The $Step step failed: $line" }
        $line | Select-Object -Last 1 | ConvertFrom-Json
    }

    # The pwsh that every step starts from: the module imported, nothing run.
    $idle = & $pwsh -NoProfile -NonInteractive -Command "Import-Module '$module'; [double]((Select-String -Path /proc/`$PID/status -Pattern '^VmHWM:\s+(\d+)').Matches[0].Groups[1].Value) / 1024"
    $all = @(); $rows = @(); $failures = @()
    foreach ($round in 1..$Rounds) {
        $record = Invoke-Step record
        $n = $record.Recorded
        $import = Invoke-Step import
        $ceiling = Invoke-Step ceiling $n
        $summary = Invoke-Step summarize
        $engine = Invoke-Step engine
        $problems = @(
            if ($record.Dropped) { "$($record.Dropped) dropped" }
            if ($engine.Read -ne $n) { "the file holds $($engine.Read) events, the recording says $n" }
            if ($summary.Calls -ne $n) { "Measure-UTrace counted $($summary.Calls) calls, the recording says $n" }
        )
        $result = [pscustomobject]@{
            Round = $round; Ok = -not $problems; Problems = $problems -join '; '; Events = $n; MB = (Get-Item $file).Length / 1MB
            RecordS = $record.Wall; RecordRss = $record.PeakRssMB
            ImportWall = $n / $import.Wall / 1e6; ImportCpu = $n / $import.Cpu / 1e6; ImportRss = $import.PeakRssMB
            CeilingWall = $n / $ceiling.Wall / 1e6; CeilingCpu = $n / $ceiling.Cpu / 1e6
            MeasureColdWall = $n / $summary.ColdWall / 1e6; MeasureColdCpu = $n / $summary.ColdCpu / 1e6
            MeasureWall = $n / $summary.Wall / 1e6; MeasureCpu = $n / $summary.Cpu / 1e6; MeasureThreadCpu = $n / $summary.ThreadCpu / 1e6
            MeasureRss = $summary.PeakRssMB
            EngineWall = $n / $engine.Wall / 1e6
        }
        Write-RoundLine ("round {0}: {1:N0} events ({2:N0} MB) recorded in {3:N1} s (peak RSS {4:N0} MB); Import-UTrace|Out-Null {5:N2} M/s ({6:N2} per CPU s), bare cmdlet|Out-Null {7:N2} ({8:N2}); Measure-UTrace -Path {9:N2} M/s ({10:N2} per CPU s) then {11:N2} M/s ({12:N2}), peak RSS {13:N0} MB; ReadEvents {14:N2} M/s" -f
            $round, $n, $result.MB, $result.RecordS, $result.RecordRss, $result.ImportWall, $result.ImportCpu, $result.CeilingWall, $result.CeilingCpu,
            $result.MeasureColdWall, $result.MeasureColdCpu, $result.MeasureWall, $result.MeasureCpu, $result.MeasureRss, $result.EngineWall) $result
        $all += $result
        if ($result.Ok) { $rows += $result } else { $failures += "round ${round}: $($result.Problems)" }
    }

    $md = ConvertTo-ResultMarkdown -Title 'Trace file' -StartedAt $startedAt -LoadBefore $loadBefore -Tools "gcc -O2 fib $Fib"
    $null = $md.AppendLine().AppendLine("Median (min-max) of $($rows.Count) rounds. Rates in million events per second of wall time, and per second of the CPU time the pwsh process used (the steadier figure on a shared machine). Peak RSS = VmHWM of the pwsh process that did only that step; a pwsh with the module imported and nothing run peaks at $(Format-Figure $idle) MB.").AppendLine()
    $columns = [ordered]@{
        'record (s)' = 'RecordS'; 'record peak RSS (MB)' = 'RecordRss'
        'Import-UTrace \| Out-Null' = 'ImportWall'; 'Import per CPU s' = 'ImportCpu'; 'import peak RSS (MB)' = 'ImportRss'
        'bare cmdlet \| Out-Null' = 'CeilingWall'; 'bare per CPU s' = 'CeilingCpu'
        'Measure-UTrace -Path, first run' = 'MeasureColdWall'; 'first run per CPU s' = 'MeasureColdCpu'
        'Measure-UTrace -Path, second run' = 'MeasureWall'; 'second run per CPU s' = 'MeasureCpu'
        'second run per CPU s of its thread' = 'MeasureThreadCpu'; 'summarize peak RSS (MB)' = 'MeasureRss'
        'TraceFile.ReadEvents (C#)' = 'EngineWall'
    }
    # Rates (M events/s) with two decimals: they are near 1 and 10.
    $format = { param([string] $Column, [double] $Value) if ($Column -match 'Wall|Cpu') { '{0:N2}' -f $Value } else { Format-Figure $Value } }
    $lead = [ordered]@{ 'events' = $(if ($rows) { '{0:N0}' -f $rows[0].Events }); 'file MB' = $(if ($rows) { Format-Figure $rows[0].MB }) }
    Add-RoundTable $md $lead $columns $rows $all $failures $format
    Save-Result $md $OutFile $failures.Count
}
finally {
    Remove-BenchWorkspace $temp -Keep:$KeepTemp
}
if ($failures) { exit 1 }
