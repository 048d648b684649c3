#Requires -Version 7.4

<#
.SYNOPSIS
    Attach and detach cost of Utrace's probes: multi-uprobe links against one perf-event
    uprobe per function, for 10 to 10,000 traced functions.

.DESCRIPTION
    For each N, generates a C program with N distinct non-inlined functions f_00000 ... and
    compiles it with gcc -O2. The program opens the FIFO named by argv[1], blocks reading one
    line from it, then calls every f_ once through a function-pointer table and exits. It never
    reads stdin (a program launched by Start-UTrace shares pwsh's stdin).

    One round: this script opens the FIFO read-write (so neither side blocks on open), counts
    its own open fds, runs `Start-UTrace -Command <program> -ArgumentList <fifo> -Function 'f_*'
    -AttachMode <mode> -AsJob` (timing the whole call), counts its fds again while the program
    sits blocked on the FIFO with every probe attached, writes the line, and waits for the job
    to end on its own when the program exits. The round then reads the TraceSummary:
    AttachTime (BPF load + ring buffer + attaching every probe), DetachTime (closing every link,
    stopping and draining the ring-buffer reader, unloading), LinkCount, EventsDelivered. EventsDelivered, the
    events received from the job and the distinct functions they name must all equal N, the
    program must have exited 0 and nothing may be dropped: otherwise the round is reported as
    FAILED, left out of the statistics, and the script exits 1.

    MultiLink runs for every N. PerFunction (two perf-event uprobes per function) runs for
    -PerFunctionCounts only, by default not 10,000: that would be 20,000 perf events (40,000
    fds) and, at ~0.1 s to close each one on the reference machine, over half an hour of
    detaching.
    PerFunction rounds of one N stop early once -PerFunctionBudgetSeconds would be exceeded
    (at least one round always runs). The default run takes 5-6 minutes, about four of them
    detaching the 2,000 perf-event uprobes of the single PerFunction N = 1000 round;
    -PerFunctionCounts 10,100 makes it a ~1.5 minute run.

    Before the measured rounds, one untimed MultiLink round with N = 10 warms up the JIT.
    The built module is copied to the temp dir first, so a rebuild of bin/ during the run
    cannot change what is measured.

    Results (medians with min and max, then every round) go to -OutFile as Markdown and to
    the console. This is a benchmark: no timing is asserted.

.EXAMPLE
    sudo pwsh bench/attach-detach.ps1

.EXAMPLE
    pwsh bench/attach-detach.ps1 -Counts 10,100 -PerFunctionCounts 10 -Rounds 3 -OutFile /tmp/quick.md
#>
[CmdletBinding()]
param(
    # Numbers of traced functions, each measured with multi-uprobe links. Strings, so that
    # `pwsh -File attach-detach.ps1 -Counts 10,100` works too (-File passes "10,100" as one string).
    [string[]] $Counts = @('10', '100', '1000', '10000'),

    # Numbers of traced functions (of -Counts) also measured with one uprobe per function.
    [string[]] $PerFunctionCounts = @('10', '100', '1000'),

    [ValidateRange(1, 100)]
    [int] $Rounds = 5,

    # No further PerFunction round of an N is started once it would end past this budget
    # (judged by the previous round's duration).
    [ValidateRange(0, 86400)]
    [double] $PerFunctionBudgetSeconds = 45,

    [string] $OutFile = (Join-Path $PSScriptRoot 'results/attach-detach.md'),

    [switch] $KeepTemp
)

# Also sets strict mode, ErrorActionPreference Stop and no progress bars for this script.
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

function ConvertTo-CountList([string[]] $Text, [string] $Name) {
    $list = foreach ($item in $Text -split '[,\s]+' | Where-Object { $_ }) {
        $value = 0
        if (-not [int]::TryParse($item, [ref] $value) -or $value -lt 1 -or $value -gt 99999) {
            throw "-$Name takes numbers from 1 to 99999 ('$item')."
        }
        $value
    }
    [int[]] @($list | Sort-Object -Unique)
}
$countList = ConvertTo-CountList $Counts 'Counts'
$perFunction = @(ConvertTo-CountList $PerFunctionCounts 'PerFunctionCounts' | Where-Object { $_ -in $countList })

# --- preconditions ---------------------------------------------------------------------------
Assert-BenchHost -Tool 'gcc', 'mkfifo' -Packages 'gcc'
$temp = New-BenchWorkspace -Prefix 'utrace-bench'

# --- helpers ---------------------------------------------------------------------------------
function New-BenchProgram {
    [CmdletBinding(SupportsShouldProcess)]
    param([int] $N)
    $dir = Join-Path $temp "n$N"
    if (-not $PSCmdlet.ShouldProcess($dir, 'Compile the bench program')) { return }
    $null = New-Item -ItemType Directory -Path $dir -Force
    $source = [Text.StringBuilder]::new()
    $null = $source.AppendLine('#include <stdio.h>')
    $null = $source.AppendLine('/* noipa: no constant-propagated clones (f_00042.constprop.0) that -Function f_* would also match. */')
    for ($i = 0; $i -lt $N; $i++) {
        $null = $source.AppendLine(('__attribute__((noinline, noipa)) int f_{0:d5}(int x) {{ return x + {0}; }}' -f $i))
    }
    $null = $source.Append('static int (*const table[])(int) = {')
    $null = $source.Append((@(0..($N - 1) | ForEach-Object { 'f_{0:d5}' -f $_ }) -join ','))
    $null = $source.AppendLine('};')
    $null = $source.AppendLine(@'
int main(int argc, char **argv)
{
    if (argc < 2) { fputs("usage: bench <fifo>\n", stderr); return 2; }
    FILE *go = fopen(argv[1], "r");          /* the benchmark holds the FIFO open read-write */
    char line[64];
    if (!go || !fgets(line, sizeof line, go)) { perror(argv[1]); return 3; }
    fclose(go);
    volatile int seed = 1;
    long sum = 0;
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)
        sum += table[i](seed);
    return sum == 0 ? 4 : 0;
}
'@)
    $c = Join-Path $dir 'bench.c'
    $exe = Join-Path $dir 'bench'
    [IO.File]::WriteAllText($c, $source.ToString())
    & gcc -O2 -o $exe $c
    if ($LASTEXITCODE -ne 0) { throw "gcc failed on $c" }
    $fifo = Join-Path $dir 'go.fifo'
    & mkfifo $fifo
    if ($LASTEXITCODE -ne 0) { throw "mkfifo $fifo failed" }
    [pscustomobject]@{ N = $N; Program = $exe; Fifo = $fifo }
}

function Get-FdCount { [IO.Directory]::GetFileSystemEntries("/proc/$PID/fd").Length }

# Stats as "median (min–max)", or just the value for a single round.
function Format-Millisecond($Stats) {
    if ($null -eq $Stats) { return 'n/a' }
    if ($Stats.Count -eq 1) { return (Format-Figure $Stats.Median) }
    '{0} ({1}–{2})' -f (Format-Figure $Stats.Median), (Format-Figure $Stats.Min), (Format-Figure $Stats.Max)
}

function Invoke-Round($Target, [string] $Mode, [int] $Round) {
    $n = $Target.N
    # PerFunction closes ~10 perf-event uprobes a second here; be generous before giving up.
    $timeout = if ($Mode -eq 'PerFunction') { [int](120 + 0.5 * 2 * $n) } else { 120 }
    $problems = [Collections.Generic.List[string]]::new()
    # Read-write: opening a FIFO so never blocks, and the program's open for reading does not
    # wait for a writer either. If the program dies early, nothing here hangs.
    $writer = [IO.FileStream]::new($Target.Fifo, [IO.FileMode]::Open, [IO.FileAccess]::ReadWrite, [IO.FileShare]::ReadWrite)
    $job = $null
    try {
        [GC]::Collect()
        $fdBefore = Get-FdCount
        # CPU time of this pwsh (every thread, kernel included) from Start-UTrace to the job's end: steadier than wall time on a busy machine.
        $process = [Diagnostics.Process]::GetCurrentProcess()
        $cpuBefore = $process.TotalProcessorTime
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $job = Start-UTrace -Command $Target.Program -ArgumentList $Target.Fifo -Function 'f_*' -AttachMode $Mode -AsJob
        $startWall = $clock.Elapsed.TotalMilliseconds
        $fdDuring = Get-FdCount
        $live = $job.Summary
        $clock.Restart()
        $line = [Text.Encoding]::ASCII.GetBytes("go`n")
        $writer.Write($line, 0, $line.Length)
        $writer.Flush()
        $done = Wait-Job $job -Timeout $timeout
        $finishWall = $clock.Elapsed.TotalMilliseconds
        $process.Refresh()
        $cpuMs = ($process.TotalProcessorTime - $cpuBefore).TotalMilliseconds
        if (-not $done) {
            $problems.Add("the program did not exit and the trace did not end within $timeout s; stopped it")
            $null = Stop-UTrace $job
        }
        $events = @(Receive-Job $job -ErrorAction SilentlyContinue -WarningAction SilentlyContinue)
        $summary = $job.Summary
    }
    finally {
        if ($job) { Remove-Job $job -Force -ErrorAction SilentlyContinue }
        $writer.Dispose()
    }

    $distinct = @($events | ForEach-Object Function | Sort-Object -Unique).Count
    if ($summary.FunctionCount -ne $n) { $problems.Add("FunctionCount $($summary.FunctionCount), expected $n") }
    if ($summary.EventsDelivered -ne $n) {
        $why = if ($events.Count -eq $n) { " although the job yielded all $n (the summary was taken before the job had read every queued event)" } else { '' }
        $problems.Add("EventsDelivered $($summary.EventsDelivered), expected $n$why")
    }
    if ($events.Count -ne $n) { $problems.Add("the job yielded $($events.Count) events, expected $n") }
    if ($distinct -ne $n) { $problems.Add("events name $distinct distinct functions, expected $n") }
    if ($summary.EventsDropped -ne 0) { $problems.Add("EventsDropped $($summary.EventsDropped)") }
    if ("$($summary.State)" -ne 'Completed' -or $summary.ExitCode -ne 0) { $problems.Add("state $($summary.State), exit code $($summary.ExitCode)") }
    if ("$($summary.AttachMode)" -ne $Mode) { $problems.Add("AttachMode $($summary.AttachMode), expected $Mode") }
    if ($summary.LinkCount -ne $live.LinkCount) { $problems.Add("LinkCount $($summary.LinkCount) in the final summary but $($live.LinkCount) while running") }

    [pscustomobject]@{
        Mode            = $Mode
        N               = $n
        Round           = $Round
        Ok              = $problems.Count -eq 0
        Problems        = $problems -join '; '
        LinkCount       = $live.LinkCount
        FdBefore        = $fdBefore
        FdDuring        = $fdDuring
        StartWallMs     = $startWall
        AttachMs        = $summary.AttachTime.TotalMilliseconds
        DetachMs        = $summary.DetachTime.TotalMilliseconds
        FinishWallMs    = $finishWall
        CpuMs           = $cpuMs
        EventsDelivered = $summary.EventsDelivered
        EventsDropped   = $summary.EventsDropped
    }
}

# --- run -------------------------------------------------------------------------------------
$startedAt = Get-Date
$loadBefore = Get-LoadAverage
$results = [Collections.Generic.List[object]]::new()
$notes = [Collections.Generic.List[string]]::new()
foreach ($n in $countList | Where-Object { $_ -notin $perFunction }) {
    $seconds = 2 * $n * 0.105
    $estimate = if ($seconds -ge 120) { "~$([math]::Round($seconds / 60)) min" } else { "~$([math]::Round($seconds)) s" }
    $notes.Add("PerFunction N = ${n}: not run (not in -PerFunctionCounts). It would hold $(2 * $n) perf-event uprobes ($(4 * $n) fds: a perf event and a BPF link each) and, at ~0.1 s to close each, take $estimate to detach.")
}

try {
    Write-Information "Compiling test programs (N = $($countList -join ', ')) in $temp ..." -InformationAction Continue
    $targets = @{}
    foreach ($n in @($countList) + 10 | Sort-Object -Unique) { $targets[$n] = New-BenchProgram $n }

    Write-Information 'Warm-up round (MultiLink, N = 10, not recorded) ...' -InformationAction Continue
    $warm = Invoke-Round $targets[10] 'MultiLink' 0
    if (-not $warm.Ok) { Write-Warning "Warm-up round failed: $($warm.Problems)" }

    foreach ($n in $countList) {
        foreach ($mode in 'MultiLink', 'PerFunction') {
            if ($mode -eq 'PerFunction' -and $n -notin $perFunction) { continue }
            $configClock = [Diagnostics.Stopwatch]::StartNew()
            $lastRound = 0.0
            for ($r = 1; $r -le $Rounds; $r++) {
                if ($mode -eq 'PerFunction' -and $r -gt 1 -and
                    $configClock.Elapsed.TotalSeconds + $lastRound -gt $PerFunctionBudgetSeconds) {
                    $notes.Add("PerFunction N = ${n}: $($r - 1) of $Rounds rounds (a round takes ~$([math]::Round($lastRound)) s; -PerFunctionBudgetSeconds $PerFunctionBudgetSeconds).")
                    break
                }
                $roundStart = $configClock.Elapsed.TotalSeconds
                $res = Invoke-Round $targets[$n] $mode $r
                $lastRound = $configClock.Elapsed.TotalSeconds - $roundStart
                $results.Add($res)
                $line = '{0,-11} N={1,-5} round {2}: start {3,8:N1} ms, attach {4,8:N1} ms, detach {5,10:N1} ms, links {6,5}, fds {7}->{8}, events {9}' -f `
                    $mode, $n, $r, $res.StartWallMs, $res.AttachMs, $res.DetachMs, $res.LinkCount, $res.FdBefore, $res.FdDuring, $res.EventsDelivered
                Write-RoundLine $line $res
            }
        }
    }
}
finally { Remove-BenchWorkspace $temp -Keep:$KeepTemp }

# --- report ----------------------------------------------------------------------------------
$md = ConvertTo-ResultMarkdown -Title 'Attach/detach' -StartedAt $startedAt -LoadBefore $loadBefore -Tools 'gcc -O2' -WithMemory
$failed = @($results | Where-Object { -not $_.Ok })
$null = $md.AppendLine("- Rounds per configuration: $Rounds (PerFunction limited by a $PerFunctionBudgetSeconds s budget per N); one untimed warm-up round first")
$null = $md.AppendLine().AppendLine('Times in ms: median (min–max) over the successful rounds. Start-UTrace = wall time of the whole call (ELF read, launch, BPF load, attach, release). Exit→done = from writing the line until the job ended (the program runs its N calls and exits; then Utrace detaches). Start + Exit→done = all a user waits for; CPU = CPU time of the pwsh process over the same span (every thread, kernel included), the steadier figure on a busy machine. Fds = open fds of the pwsh process while the program waits with every probe attached (Δ = more than just before Start-UTrace).').AppendLine()
$null = $md.AppendLine('| Mode | N | Rounds | Links | Fds (Δ) | Start-UTrace | AttachTime | DetachTime | Detach per link | Exit→done | Start + Exit→done | CPU | Events |')
$null = $md.AppendLine('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
foreach ($group in $results | Group-Object Mode, N) {
    $ok = @($group.Group | Where-Object Ok)
    $first = $group.Group[0]
    $roundsText = if ($ok.Count -eq $group.Count) { "$($ok.Count)" } else { "$($ok.Count) of $($group.Count)" }
    if ($ok.Count -eq 0) {
        $null = $md.AppendLine("| $($first.Mode) | $($first.N) | $roundsText | | | | | | | | | | all rounds FAILED |")
        continue
    }
    $fd = Get-Statistic ($ok | ForEach-Object FdDuring)
    $fdDelta = Get-Statistic ($ok | ForEach-Object { $_.FdDuring - $_.FdBefore })
    $perLink = Get-Statistic ($ok | ForEach-Object { $_.DetachMs / [math]::Max(1, $_.LinkCount) })
    $links = @($ok | ForEach-Object LinkCount | Sort-Object -Unique) -join '/'
    $delivered = @($ok | ForEach-Object EventsDelivered | Sort-Object -Unique) -join '/'
    $null = $md.AppendLine(('| {0} | {1} | {2} | {3} | {4} (+{5}) | {6} | {7} | {8} | {9} | {10} | {11} | {12} | {13} |' -f
            $first.Mode, $first.N, $roundsText, $links,
            $fd.Median, $fdDelta.Median,
            (Format-Millisecond (Get-Statistic ($ok | ForEach-Object StartWallMs))),
            (Format-Millisecond (Get-Statistic ($ok | ForEach-Object AttachMs))),
            (Format-Millisecond (Get-Statistic ($ok | ForEach-Object DetachMs))),
            (Format-Millisecond $perLink),
            (Format-Millisecond (Get-Statistic ($ok | ForEach-Object FinishWallMs))),
            (Format-Millisecond (Get-Statistic ($ok | ForEach-Object { $_.StartWallMs + $_.FinishWallMs }))),
            (Format-Millisecond (Get-Statistic ($ok | ForEach-Object CpuMs))),
            $delivered))
}
if ($notes.Count) {
    $null = $md.AppendLine()
    foreach ($note in $notes) { $null = $md.AppendLine("- $note") }
}
Add-FailedRound $md @($failed | ForEach-Object { "$($_.Mode) N = $($_.N) round $($_.Round): $($_.Problems)" })
$null = $md.AppendLine().AppendLine('## Every round').AppendLine()
$null = $md.AppendLine('| Mode | N | Round | Ok | Links | Fds before | Fds during | Start-UTrace ms | AttachTime ms | DetachTime ms | Exit→done ms | CPU ms | Delivered | Dropped |')
$null = $md.AppendLine('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
foreach ($r in $results) {
    $null = $md.AppendLine(('| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7:N1} | {8:N1} | {9:N1} | {10:N1} | {11:N1} | {12} | {13} |' -f
            $r.Mode, $r.N, $r.Round, $(if ($r.Ok) { 'yes' } else { 'FAILED' }), $r.LinkCount, $r.FdBefore, $r.FdDuring,
            $r.StartWallMs, $r.AttachMs, $r.DetachMs, $r.FinishWallMs, $r.CpuMs, $r.EventsDelivered, $r.EventsDropped))
}

Save-Result $md $OutFile $failed.Count
if ($failed.Count) { exit 1 }
