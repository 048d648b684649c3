#Requires -Version 7.4

<#
.SYNOPSIS
    A real server: every function of Debian's redis-server traced under redis-benchmark,
    requests/s traced against untraced, events/s, events lost, attach and detach times.

.DESCRIPTION
    Each round starts a fresh redis-server on a free loopback port (--save '' --appendonly no,
    so it never writes to disk) and runs redis-benchmark (-q --csv, -c -Clients, -t -Tests)
    three ways against it:
      untraced  -Requests requests per test, nothing attached
      outfile   Start-UTrace -ProcessId <pid> -OutFile <file> -AsJob, with every function
                Get-UTraceFunction lists for the process (its own and its library calls:
                3,537 on Debian 12), then -TracedRequests requests per test, then Stop-UTrace.
                The events recorded must all be in the file (read back with the engine's
                TraceFile reader).
      live      Start-UTrace -ProcessId <pid> -AsJob | Receive-Job -Wait | Measure-Object:
                every event becomes a CallEvent in this PowerShell while redis-benchmark runs
                -TracedRequests requests per test, then shuts redis down, which ends the trace.
    Requests/s are redis-benchmark's own figures per test. Events/s = events delivered (or
    recorded) / the benchmark's wall time. Lost = calls the kernel saw that never reached the
    consumer: dropped because the ring buffer was full, left unread or unwritten (calls nested
    deeper than 64 traced frames are counted apart, as too deep). A round FAILED when redis or
    the benchmark fails, the trace does not complete, or the file does not hold every recorded
    event; lost events are a result, not a failure. This is a benchmark: no timing is asserted.

    redis-server's process name is its command line ("redis-server 127.0.0.1:PORT"), so the
    pid comes from Start-Process, not from Get-Process redis-server.

.EXAMPLE
    pwsh bench/redis.ps1

.EXAMPLE
    pwsh bench/redis.ps1 -Requests 20000 -TracedRequests 1000 -Rounds 1 -OutFile /tmp/redis.md
#>
[CmdletBinding()]
param(
    # Requests per test untraced.
    [ValidateRange(100, 10000000)]
    [int] $Requests = 100000,

    # Requests per test while traced (tracing every function makes redis ~40x slower).
    [ValidateRange(100, 10000000)]
    [int] $TracedRequests = 5000,

    [ValidateRange(1, 1000)]
    [int] $Clients = 50,

    # redis-benchmark -t.
    [string] $Tests = 'set,get',

    [ValidateRange(1, 20)]
    [int] $Rounds = 3,

    [string] $OutFile = (Join-Path $PSScriptRoot 'results/redis.md'),

    [switch] $KeepTemp
)

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchHost -Tool 'redis-server', 'redis-benchmark', 'redis-cli' -Packages 'redis-server redis-tools'
$temp = New-BenchWorkspace -Prefix 'utrace-redis'

function Get-FreePort {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function Start-RedisServer {
    [CmdletBinding(SupportsShouldProcess)]
    param([string] $Name)
    $port = Get-FreePort
    if (-not $PSCmdlet.ShouldProcess("127.0.0.1:$port", 'Start redis-server')) { return }
    $server = Start-Process redis-server -PassThru -RedirectStandardOutput (Join-Path $temp "$Name.log") -ArgumentList @(
        '--port', $port, '--bind', '127.0.0.1', '--save', "''", '--appendonly', 'no')
    foreach ($try in 1..100) {
        if ((& redis-cli -p $port ping 2>$null) -eq 'PONG') { return [pscustomobject]@{ Process = $server; Port = $port } }
        Start-Sleep -Milliseconds 50
    }
    Stop-RedisServer ([pscustomobject]@{ Process = $server; Port = $port })
    throw "redis-server did not answer on port $port (log: $(Get-Content (Join-Path $temp "$Name.log") -Raw))"
}

function Stop-RedisServer {
    [CmdletBinding(SupportsShouldProcess)]
    param($Redis)
    if (-not $PSCmdlet.ShouldProcess("127.0.0.1:$($Redis.Port)", 'Stop redis-server')) { return }
    if (-not $Redis.Process.HasExited) { $null = & redis-cli -p $Redis.Port shutdown nosave 2>$null }
    if (-not $Redis.Process.WaitForExit(5000)) { $Redis.Process.Kill() }
}

# The shell line that runs redis-benchmark, writes its CSV and its wall time in ns, and with
# -Shutdown then ends the server.
function Get-BenchmarkCommand([int] $Port, [int] $N, [string] $Name, [switch] $Shutdown) {
    $csv = Join-Path $temp "$Name.csv"
    $wall = Join-Path $temp "$Name.ns"
    $line = "start=`$(date +%s%N); redis-benchmark -p $Port -q --csv -n $N -c $Clients -t $Tests > '$csv' 2>&1; echo `$((`$(date +%s%N) - start)) > '$wall'"
    if ($Shutdown) { $line += "; redis-cli -p $Port shutdown nosave > /dev/null 2>&1" }
    [pscustomobject]@{ Line = $line; Csv = $csv; Wall = $wall }
}

# Requests/s per test from redis-benchmark's CSV, and the wall time in seconds.
function Read-Benchmark($Command, $Problems) {
    $rates = [ordered]@{}
    $rows = @(Import-Csv $Command.Csv -ErrorAction SilentlyContinue | Where-Object { $_.PSObject.Properties['rps'] })
    foreach ($row in $rows) { $rates[$row.test] = [double]$row.rps }
    if (-not $rates.Count) { $Problems.Add("redis-benchmark wrote no rates: $(Get-Content $Command.Csv -Raw -ErrorAction SilentlyContinue)") }
    $seconds = if (Test-Path $Command.Wall) { [double](Get-Content $Command.Wall -Raw) / 1e9 } else { $null }
    [pscustomobject]@{ Rates = $rates; Seconds = $seconds }
}

function Get-Lost($Summary) { $Summary.DroppedRingBufferFull + $Summary.DroppedUnread + $Summary.DroppedUnwritten }

function Invoke-Round([int] $Round, [int] $N, [int] $TracedN) {
    $problems = [Collections.Generic.List[string]]::new()
    $row = [ordered]@{ Round = $Round }
    $redis = Start-RedisServer "redis-$Round"
    try {
        $serverPid = $redis.Process.Id
        $row.Functions = @(Get-UTraceFunction -ProcessId $serverPid).Count

        $untraced = Get-BenchmarkCommand $redis.Port $N "untraced-$Round"
        & sh -c $untraced.Line
        $row.Untraced = Read-Benchmark $untraced $problems

        $file = Join-Path $temp "redis-$Round.arrow"
        $job = Start-UTrace -ProcessId $serverPid -OutFile $file -AsJob -Confirm:$false -WarningAction SilentlyContinue
        $recorded = Get-BenchmarkCommand $redis.Port $TracedN "outfile-$Round"
        & sh -c $recorded.Line
        $summary = Stop-UTrace $job
        Remove-Job $job -Force -ErrorAction SilentlyContinue
        $row.OutFile = Read-Benchmark $recorded $problems
        $row.OutFileSummary = $summary
        $trace = [Utrace.TraceFile]::Open($file)
        try { $inFile = [Linq.Enumerable]::LongCount($trace.ReadEvents()) } finally { $trace.Dispose() }
        $row.EventsInFile = $inFile
        $row.FileMB = (Get-Item $file).Length / 1MB
        Remove-Item $file
        if ($inFile -ne $summary.EventsRecorded) { $problems.Add("the file holds $inFile events, EventsRecorded $($summary.EventsRecorded)") }
        if ($summary.FunctionCount -ne $row.Functions) { $problems.Add("-OutFile traced $($summary.FunctionCount) functions, Get-UTraceFunction lists $($row.Functions)") }

        $live = Get-BenchmarkCommand $redis.Port $TracedN "live-$Round" -Shutdown
        $job = Start-UTrace -ProcessId $serverPid -AsJob -Confirm:$false -WarningAction SilentlyContinue
        $benchmark = Start-Process sh -ArgumentList '-c', "`"$($live.Line)`"" -PassThru
        $row.LiveCount = (Receive-Job $job -Wait -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Measure-Object).Count
        $benchmark.WaitForExit()
        $row.LiveSummary = $job.Summary
        Remove-Job $job -Force -ErrorAction SilentlyContinue
        $row.Live = Read-Benchmark $live $problems
        if ($row.LiveCount -ne $row.LiveSummary.EventsDelivered) { $problems.Add("Measure-Object counted $($row.LiveCount), EventsDelivered $($row.LiveSummary.EventsDelivered)") }
    }
    catch { $problems.Add("$_") }
    finally { Stop-RedisServer $redis }
    $row.Ok = $problems.Count -eq 0
    $row.Problems = $problems -join '; '
    [pscustomobject]$row
}

$startedAt = Get-Date
$loadBefore = Get-LoadAverage
$results = [Collections.Generic.List[object]]::new()
try {
    $null = Invoke-Round 0 ([math]::Min($Requests, 2000)) 200   # warm-up, not recorded
    foreach ($round in 1..$Rounds) {
        $res = Invoke-Round $round $Requests $TracedRequests
        $results.Add($res)
        $line = "round $round"
        if ($res.Ok) {
            $line += ': untraced {0}; -OutFile {1}, {2:N0} events/s, lost {3}; live {4}, {5:N0} events/s, lost {6}' -f
                (($res.Untraced.Rates.GetEnumerator() | ForEach-Object { "$($_.Key) $('{0:N0}' -f $_.Value)/s" }) -join ' '),
                (($res.OutFile.Rates.GetEnumerator() | ForEach-Object { "$($_.Key) $('{0:N0}' -f $_.Value)/s" }) -join ' '),
                ($res.OutFileSummary.EventsRecorded / $res.OutFile.Seconds), (Get-Lost $res.OutFileSummary),
                (($res.Live.Rates.GetEnumerator() | ForEach-Object { "$($_.Key) $('{0:N0}' -f $_.Value)/s" }) -join ' '),
                ($res.LiveSummary.EventsDelivered / $res.Live.Seconds), (Get-Lost $res.LiveSummary)
        }
        Write-RoundLine $line $res
    }
}
finally {
    Remove-BenchWorkspace $temp -Keep:$KeepTemp
}

$ok = @($results | Where-Object Ok)
$failed = @($results | Where-Object { -not $_.Ok })
$version = "$(& redis-server --version)" -replace ' sha=.*$'
$md = ConvertTo-ResultMarkdown -Title 'redis-server' -StartedAt $startedAt -LoadBefore $loadBefore -Tools $version
$functions = if ($ok) { '{0:N0}' -f $ok[0].Functions } else { '?' }
$returnMode = if (-not $ok) { 'return mode unknown' }
elseif ("$($ok[0].OutFileSummary.ReturnMode)" -eq 'EntryOnly') { "return mode EntryOnly (Utrace's own choice: redis-server imports makecontext, so its calls are reported at entry, without durations)" }
else { "return mode $($ok[0].OutFileSummary.ReturnMode)" }
$null = $md.AppendLine("- Server: Debian's redis-server on 127.0.0.1, --save '' --appendonly no, a fresh one per round; $functions functions traced (every one Get-UTraceFunction -ProcessId lists), $returnMode. Client: redis-benchmark -q --csv -c $Clients -t $Tests, -n $('{0:N0}' -f $Requests) untraced and $('{0:N0}' -f $TracedRequests) traced. Rounds: $Rounds, after an untimed warm-up round.").AppendLine()
$null = $md.AppendLine('Requests/s are redis-benchmark''s, per test; traced/untraced is their ratio. Events/s = events recorded (-OutFile) or delivered (live) / the benchmark''s wall time. Lost = dropped because the ring buffer was full, unread or unwritten; too deep = calls nested over 64 traced frames (not sent, counted). Median (min-max) over the successful rounds.').AppendLine()

function Format-Stat([double[]] $Values, [string] $Format = '{0:N0}') {
    $s = Get-Statistic $Values
    if (-not $s) { return '' }
    "$($Format -f $s.Median) ($($Format -f $s.Min)-$($Format -f $s.Max))"
}
$null = $md.AppendLine('| Mode | Test | requests/s | traced / untraced | events/s | lost | too deep | attach ms | detach ms |')
$null = $md.AppendLine('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
$testNames = if ($ok) { @($ok[0].Untraced.Rates.Keys) } else { @() }
foreach ($mode in 'Untraced', 'OutFile', 'Live') {
    $label = @{ Untraced = 'untraced'; OutFile = 'Utrace `-OutFile -AsJob`'; Live = 'Utrace `-AsJob \| Receive-Job -Wait \| Measure-Object`' }[$mode]
    foreach ($test in $testNames) {
        $rates = @($ok | ForEach-Object { $_.$mode.Rates[$test] })
        $ratio = if ($mode -ne 'Untraced') { Format-Stat @($ok | ForEach-Object { $_.$mode.Rates[$test] / $_.Untraced.Rates[$test] }) '{0:N3}' } else { '–' }
        $cells = if ($mode -eq 'Untraced') { '–', '–', '–', '–', '–' }
        else {
            $summaries = @($ok | ForEach-Object { $_."${mode}Summary" })
            $eventRate = @($ok | ForEach-Object { $(if ($mode -eq 'OutFile') { $_.OutFileSummary.EventsRecorded } else { $_.LiveSummary.EventsDelivered }) / $_.$mode.Seconds })
            (Format-Stat $eventRate), ('{0:N0}' -f ($summaries | ForEach-Object { Get-Lost $_ } | Measure-Object -Sum).Sum),
            ('{0:N0}' -f ($summaries | Measure-Object DroppedTooDeep -Sum).Sum),
            (Format-Stat @($summaries | ForEach-Object { $_.AttachTime.TotalMilliseconds })), (Format-Stat @($summaries | ForEach-Object { $_.DetachTime.TotalMilliseconds }))
        }
        $null = $md.AppendLine("| $label | $test | $(Format-Stat $rates) | $ratio | $($cells -join ' | ') |")
    }
}
Add-FailedRound $md @($failed | ForEach-Object { "round $($_.Round): $($_.Problems)" })
$null = $md.AppendLine().AppendLine('## Every round').AppendLine()
$null = $md.AppendLine('| Round | Ok | untraced requests/s | -OutFile requests/s | events recorded | in the file | file MB | lost | live requests/s | events delivered | counted | lost | Notes |')
$null = $md.AppendLine('| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |')
foreach ($r in $results) {
    $rates = { param($b) if ($b) { ($b.Rates.GetEnumerator() | ForEach-Object { "$($_.Key) $('{0:N0}' -f $_.Value)" }) -join ', ' } }
    $has = { param($name) $r.PSObject.Properties[$name] -and $null -ne $r.$name }
    $null = $md.AppendLine(('| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7} | {8} | {9} | {10} | {11} | {12} |' -f $r.Round, $(if ($r.Ok) { 'yes' } else { 'FAILED' }),
            $(if (& $has Untraced) { & $rates $r.Untraced }), $(if (& $has OutFile) { & $rates $r.OutFile }),
            $(if (& $has OutFileSummary) { $r.OutFileSummary.EventsRecorded }), $(if (& $has EventsInFile) { $r.EventsInFile }),
            $(if (& $has FileMB) { Format-Figure $r.FileMB }), $(if (& $has OutFileSummary) { Get-Lost $r.OutFileSummary }),
            $(if (& $has Live) { & $rates $r.Live }), $(if (& $has LiveSummary) { $r.LiveSummary.EventsDelivered }),
            $(if (& $has LiveCount) { $r.LiveCount }), $(if (& $has LiveSummary) { Get-Lost $r.LiveSummary }), ($r.Problems -replace '\|', '\|')))
}
Save-Result $md $OutFile $failed.Count
if ($failed.Count) { exit 1 }
