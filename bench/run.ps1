#Requires -Version 7.4

<#
.SYNOPSIS
    The whole benchmark in one run: every bench script, side by side on this machine, then a
    summary (bench/results/summary.md) and the benchmark table of bench/README.md.

.DESCRIPTION
    Runs, one after the other and each in its own pwsh (a script that fails does not stop the
    others):
      overhead          bench/overhead.ps1, leaf's first instruction emulated by the kernel:
                        floor, floor + ring buffer, bpftrace, uftrace and every Utrace mode
      overhead-stepped  bench/overhead.ps1 -FirstInstruction SingleStepped: the same rows
      throughput        bench/throughput.ps1: 1 and 2 threads, bare ring buffer, -OutFile, | Out-Null
      trace-file        bench/trace-file.ps1: recording fib 33 (11.4 M events), Import-UTrace, Measure-UTrace -Path, peak RSS
      attach-detach     bench/attach-detach.ps1: 10 to 10,000 functions (multi links; per-function
                        uprobes for 10 functions only, the slow kind takes minutes)
      sort              bench/sort.ps1: sort.c's user line as is, with the advisor's exclusion and
                        with -ProbeBudget 10, against untraced, the floor and main/qsort/merge_sort only
      redis             bench/redis.ps1: every function of redis-server under redis-benchmark
      sql               bench/sql.ps1: p99 per function over fib 33 (11.4 M calls), Invoke-UTraceQuery
                        against Import-UTrace | Group-Object
    Each writes its own bench/results/<name>.md (date, machine, kernel, commit, every round,
    median and min-max). Then this script writes bench/results/summary.md (the tables side by
    side, which scripts failed) and replaces the block between <!-- bench:begin --> and
    <!-- bench:end --> in bench/README.md with the headline figures.

    Needs root, the built module, gcc, clang, libbpf-dev >= 1.3, bpftrace, uftrace,
    redis-server and redis-tools: scripts/bench.sh installs them and builds, then runs this.
    The full run takes 17-20 minutes on 2 busy cores; -Quick (fewer calls and rounds) about 5.

.EXAMPLE
    pwsh bench/run.ps1

.EXAMPLE
    pwsh bench/run.ps1 -Quick -Skip attach-detach -NoReadme
#>
[CmdletBinding()]
param(
    # Fewer calls and rounds: for trying the runner, not for figures to publish.
    [switch] $Quick,

    # Parts to leave out (names as in the description).
    [ValidateSet('overhead', 'overhead-stepped', 'throughput', 'trace-file', 'attach-detach', 'sort', 'redis', 'sql')]
    [string[]] $Skip = @(),

    [string] $ResultsDirectory = (Join-Path $PSScriptRoot 'results'),

    # Leave bench/README.md as it is.
    [switch] $NoReadme,

    # Run nothing: write the summary and the block of bench/README.md from the results files already there
    # (after re-running one script by hand, say).
    [switch] $ReportOnly
)

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchHost -Tool 'gcc', 'clang', 'bpftrace', 'uftrace', 'redis-server', 'redis-benchmark' -Packages 'gcc clang bpftrace uftrace redis-server redis-tools'
$repo = Split-Path $PSScriptRoot -Parent

# name -> script and its arguments, full and -Quick.
$parts = [ordered]@{
    'overhead'         = @{ Script = 'overhead.ps1'; Title = 'Per-call overhead, first instruction emulated'
        Full = @('-Calls', '1000000', '-Rounds', '5'); Quick = @('-Calls', '100000', '-Rounds', '1') }
    'overhead-stepped' = @{ Script = 'overhead.ps1'; Title = 'Per-call overhead, first instruction single-stepped'
        Full = @('-FirstInstruction', 'SingleStepped', '-Calls', '200000', '-Rounds', '5'); Quick = @('-FirstInstruction', 'SingleStepped', '-Calls', '20000', '-Rounds', '1') }
    'throughput'       = @{ Script = 'throughput.ps1'; Title = 'Throughput and loss, 1 and 2 traced threads'
        Full = @('-Calls', '1000000', '-Rounds', '3'); Quick = @('-Calls', '100000', '-Rounds', '1') }
    'trace-file'       = @{ Script = 'trace-file.ps1'; Title = 'Recording to a file and reading it back'
        Full = @('-Fib', '33', '-Rounds', '3'); Quick = @('-Fib', '25', '-Rounds', '1') }
    'attach-detach'    = @{ Script = 'attach-detach.ps1'; Title = 'Attach and detach by number of functions'
        Full = @('-PerFunctionCounts', '10', '-Rounds', '5'); Quick = @('-Counts', '10,10000', '-PerFunctionCounts', '10', '-Rounds', '1') }
    'sort'             = @{ Script = 'sort.ps1'; Title = 'sort.c: the user''s line, the advisor''s exclusion and -ProbeBudget'
        Full = @('-Size', '200000'); Quick = @('-Size', '20000') }
    'redis'            = @{ Script = 'redis.ps1'; Title = 'redis-server, every function traced, under redis-benchmark'
        Full = @('-Rounds', '3'); Quick = @('-Requests', '20000', '-TracedRequests', '1000', '-Rounds', '1') }
    'sql'              = @{ Script = 'sql.ps1'; Title = 'SQL over a trace file against the pipeline'
        Full = @('-Fib', '33', '-Rounds', '3'); Quick = @('-Fib', '25', '-Rounds', '1') }
}

# The first table of a results file, as its Markdown lines.
function Get-ResultTableText([string] $Path) {
    if (-not (Test-Path $Path)) { return @() }
    $table = [Collections.Generic.List[string]]::new()
    foreach ($line in Get-Content $Path) {
        if ($line -match '^\|') { $table.Add($line) }
        elseif ($table.Count) { break }
    }
    $table.ToArray()
}

# The first Markdown table of a results file, as objects named by its header cells.
function Read-ResultTable([string] $Path) {
    $lines = @(Get-ResultTableText $Path)
    if ($lines.Count -lt 3) { return @() }
    $split = { param($line) @(($line.Trim().Trim('|') -split '(?<!\\)\|') | ForEach-Object { $_.Trim() }) }
    $header = & $split $lines[0]
    foreach ($line in $lines[2..($lines.Count - 1)]) {
        $cells = & $split $line
        $row = [ordered]@{}
        for ($i = 0; $i -lt $header.Count; $i++) { $row[$header[$i]] = if ($i -lt $cells.Count) { $cells[$i] } else { '' } }
        [pscustomobject]$row
    }
}

# The date, kernel, machine, commit and starting load of a results file, from its header lines.
function Get-ResultHeader([string] $Path) {
    $header = @{}
    foreach ($line in Get-Content $Path -TotalCount 8) {
        if ($line -match '^- (Date|Kernel|Machine|Utrace): (.*)$') { $header[$Matches[1]] = $Matches[2] }
    }
    $machine, $load = "$($header.Machine)" -split '; load average ', 2
    [pscustomobject]@{
        Date       = ("$($header.Date)" -split ' ')[0]
        Kernel     = $header.Kernel
        Machine    = $machine
        Commit     = ("$($header.Utrace)" -split '[ ;]')[1]
        LoadBefore = ("$load" -split ' before')[0]
    }
}

# One cell of a row, or '?' when the row or column is missing (a script changed its table).
function Get-Cell($Row, [string] $Column) {
    if ($Row -and $Row.PSObject.Properties[$Column]) { $Row.$Column } else { '?' }
}

# The median of a "median (min–max)" cell.
function Get-Median([string] $Cell) { ($Cell -split '\s+\(')[0] }

# A row's CPU ns per call over the floor's, from an overhead table ('?' when either is missing).
function Get-CpuRatio($Row, $Table) {
    $floorRow = $Table | Where-Object Configuration -Like 'floor:*' | Select-Object -First 1
    $cpu = 0.0; $floorCpu = 0.0
    if (-not [double]::TryParse((Get-Cell $Row 'CPU ns/call'), [Globalization.NumberStyles]::Number, [cultureinfo]::CurrentCulture, [ref] $cpu) -or
        -not [double]::TryParse((Get-Cell $floorRow 'CPU ns/call'), [Globalization.NumberStyles]::Number, [cultureinfo]::CurrentCulture, [ref] $floorCpu) -or
        $floorCpu -eq 0 -or $Row.Configuration -eq 'untraced') { return '–' }
    '{0:N2}' -f ($cpu / $floorCpu)
}

$startedAt = Get-Date
$loadBefore = Get-LoadAverage
$runs = [ordered]@{}
foreach ($name in $parts.Keys) {
    if ($name -in $Skip) { continue }
    $part = $parts[$name]
    $outFile = Join-Path $ResultsDirectory "$name.md"
    $arguments = @($(if ($Quick) { $part.Quick } else { $part.Full })) + @('-OutFile', $outFile)
    if (-not $ReportOnly) { Write-Information "`n==> $name`: bench/$($part.Script) $($arguments -join ' ')" -InformationAction Continue }
    if ($ReportOnly) {
        if (Test-Path $outFile) { $runs[$name] = [pscustomobject]@{ ExitCode = $null; Minutes = $null; File = $outFile } }
        continue
    }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    & pwsh -NoProfile -File (Join-Path $PSScriptRoot $part.Script) @arguments | Out-Host
    $runs[$name] = [pscustomobject]@{ ExitCode = $LASTEXITCODE; Minutes = $clock.Elapsed.TotalMinutes; File = $outFile }
}

# --- summary ---------------------------------------------------------------------------------
$relative = { param($path) [IO.Path]::GetRelativePath($repo, $path) -replace '\\', '/' }
$md = ConvertTo-ResultMarkdown -Title 'Summary of the' -StartedAt $startedAt -LoadBefore $loadBefore -Tools "bench/run.ps1$(if ($Quick) { ' -Quick' })" -WithMemory
$null = $md.AppendLine('- The machine is shared (other sessions build and test on the same 2 cores): absolute times move from run to run, so compare the ratios, which each script measures with its configurations interleaved in the same rounds.').AppendLine()
$null = $md.AppendLine('| Part | Script | Status | Minutes | Results |').AppendLine('| --- | --- | --- | ---: | --- |')
foreach ($name in $runs.Keys) {
    $run = $runs[$name]
    $status = if ($null -eq $run.ExitCode) { 'earlier results (-ReportOnly)' } elseif ($run.ExitCode -eq 0) { 'ok' } else { "FAILED (exit $($run.ExitCode)): see its results" }
    $null = $md.AppendLine("| $name | bench/$($parts[$name].Script) | $status | $(if ($null -ne $run.Minutes) { '{0:N1}' -f $run.Minutes }) | [$(Split-Path $run.File -Leaf)]($(Split-Path $run.File -Leaf)) |")
}

# Per-call overhead: both variants side by side, matched by configuration.
$emulated = @(if ($runs['overhead']) { Read-ResultTable $runs['overhead'].File })
$stepped = @(if ($runs['overhead-stepped']) { Read-ResultTable $runs['overhead-stepped'].File })
$overheadLines = [Collections.Generic.List[string]]::new()
if ($emulated -or $stepped) {
    $overheadLines.Add('| Configuration | emulated: ns/call | x floor | CPU x floor | single-stepped: ns/call | x floor | CPU x floor |')
    $overheadLines.Add('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    $names = @(@($emulated) + @($stepped) | ForEach-Object Configuration | Select-Object -Unique)
    foreach ($configuration in $names) {
        $e = $emulated | Where-Object Configuration -EQ $configuration | Select-Object -First 1
        $s = $stepped | Where-Object Configuration -EQ $configuration | Select-Object -First 1
        $overheadLines.Add("| $configuration | $(Get-Median (Get-Cell $e 'ns/call')) | $(Get-Cell $e 'x floor') | $(Get-CpuRatio $e $emulated) | $(Get-Median (Get-Cell $s 'ns/call')) | $(Get-Cell $s 'x floor') | $(Get-CpuRatio $s $stepped) |")
    }
}
if ($overheadLines.Count) {
    $null = $md.AppendLine().AppendLine('## Per-call overhead').AppendLine()
    $null = $md.AppendLine('A leaf function called in a loop; wall ns per call, median of the rounds; x floor = against a libbpf loader whose entry and return multi-uprobes only count, in the same run; CPU x floor = the same ratio for the CPU time charged to the traced thread (kernel probe handling included), which waiting for a CPU on a loaded machine does not inflate. From [overhead.md](overhead.md) and [overhead-stepped.md](overhead-stepped.md).').AppendLine()
    foreach ($line in $overheadLines) { $null = $md.AppendLine($line) }
}
foreach ($name in 'throughput', 'trace-file', 'attach-detach', 'sort', 'redis', 'sql') {
    if (-not $runs[$name]) { continue }
    $null = $md.AppendLine().AppendLine("## $($parts[$name].Title)").AppendLine()
    $null = $md.AppendLine("From [$(Split-Path $runs[$name].File -Leaf)]($(Split-Path $runs[$name].File -Leaf)) (bench/$($parts[$name].Script)).").AppendLine()
    foreach ($line in Get-ResultTableText $runs[$name].File) { $null = $md.AppendLine($line) }
}
Save-Result $md (Join-Path $ResultsDirectory 'summary.md') 0
Write-Information "Summary written to $(& $relative (Join-Path $ResultsDirectory 'summary.md'))" -InformationAction Continue

# --- bench/README.md block ---------------------------------------------------------------------
if (-not $NoReadme) {
    $readmePath = Join-Path $PSScriptRoot 'README.md'
    $readme = Get-Content $readmePath -Raw
    # The markers on lines of their own: the prose of bench/README.md names them too.
    $pattern = '(?ms)^<!-- bench:begin -->$.*?^<!-- bench:end -->$'
    if ($readme -notmatch $pattern) { throw "bench/README.md has no <!-- bench:begin --> ... <!-- bench:end --> block to replace." }
    # The facts of the results the block shows (with -ReportOnly, an earlier run's), not of this process.
    $measured = Get-ResultHeader ($runs.Values | Select-Object -First 1).File
    $facts = "Measured by ``bash scripts/bench.sh`` (x floor: wall time; CPU x floor: CPU time charged to the traced thread) on $($measured.Date), kernel $($measured.Kernel), $($measured.Machine), commit $($measured.Commit), load average $($measured.LoadBefore) at the start (a shared machine: compare ratios)$(if ($Quick) { '; a -Quick run' }). Every round, min and median: [results/summary.md](results/summary.md)."
    $block = [Text.StringBuilder]::new()
    $null = $block.AppendLine('<!-- bench:begin -->').AppendLine($facts).AppendLine()
    foreach ($line in $overheadLines) { $null = $block.AppendLine($line) }

    $rows = [Collections.Generic.List[string]]::new()
    if ($runs['throughput']) {
        foreach ($row in Read-ResultTable $runs['throughput'].File | Where-Object { $_.Configuration -notlike 'untraced*' }) {
            $rows.Add("| throughput, $(Get-Cell $row 'Threads') thread(s): $(Get-Cell $row 'Configuration') | $(Get-Median (Get-Cell $row 'M calls/s')) M calls/s; x the ring: $(Get-Cell $row 'x ring') wall, $(Get-Cell $row 'x ring (CPU)') CPU; $(Get-Cell $row 'lost') lost |")
        }
    }
    if ($runs['trace-file']) {
        $row = Read-ResultTable $runs['trace-file'].File | Select-Object -First 1
        if ($row) {
            $cells = foreach ($column in $row.PSObject.Properties.Name) { "$column $(Get-Median $row.$column)" }
            $rows.Add("| recording fib with every function traced, reading it back (rates in M events/s) | $($cells -join '; ') |")
        }
    }
    if ($runs['attach-detach']) {
        foreach ($row in Read-ResultTable $runs['attach-detach'].File | Where-Object { $_.Mode -eq 'MultiLink' }) {
            $rows.Add("| attach + detach, $(Get-Cell $row 'N') functions (multi-uprobe links) | $(Get-Median (Get-Cell $row 'AttachTime')) + $(Get-Median (Get-Cell $row 'DetachTime')) ms |")
        }
    }
    if ($runs['redis']) {
        foreach ($row in Read-ResultTable $runs['redis'].File) {
            $figure = "$(Get-Median (Get-Cell $row 'requests/s')) requests/s"
            if ((Get-Cell $row 'traced / untraced') -ne '–') { $figure += " ($(Get-Median (Get-Cell $row 'traced / untraced')) x untraced), $(Get-Median (Get-Cell $row 'events/s')) events/s, $(Get-Cell $row 'lost') lost" }
            $rows.Add("| redis-server, every function: $(Get-Cell $row 'Mode'), $(Get-Cell $row 'Test') | $figure |")
        }
    }
    if ($rows.Count) {
        $null = $block.AppendLine().AppendLine('| what | figure (median) |').AppendLine('| --- | --- |')
        foreach ($line in $rows) { $null = $block.AppendLine($line) }
    }
    $null = $block.Append('<!-- bench:end -->')
    $readme = [regex]::Replace($readme, $pattern, { param($m) $block.ToString() })
    [IO.File]::WriteAllText($readmePath, $readme)
    Write-Information 'bench/README.md: benchmark block replaced.' -InformationAction Continue
}
$failedParts = @($runs.Keys | Where-Object { $null -ne $runs[$_].ExitCode -and $runs[$_].ExitCode -ne 0 })
if ($failedParts) { Write-Warning "Failed: $($failedParts -join ', ') (see their results)."; exit 1 }
