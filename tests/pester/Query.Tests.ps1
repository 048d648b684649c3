# Invoke-UTraceQuery: SQL (DuckDB) over trace files. Expectations come from Measure-UTrace and from
# the CallEvents Import-UTrace reads from the same file, never from the query code.
BeforeDiscovery {
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $format10 = Join-Path $PSScriptRoot '../fixtures/traces/fib5-format-1.0.arrow'
    $byFunction = 'SELECT function, count(*) AS calls, sum(duration) AS total FROM calls GROUP BY function ORDER BY function'

    # function=calls/total lines, in ordinal order, from query rows or from CallEvents.
    function Format-Count($Rows) { ($Rows | ForEach-Object { "$($_.function)=$($_.calls)/$($_.total)" }) -join ' ' }
    function Format-EventCount($Events) {
        $groups = $Events | Group-Object Function | Sort-Object { $_.Name } -Culture ([cultureinfo]::InvariantCulture)
        $lines = foreach ($g in $groups) {
            $timed = @($g.Group | Where-Object HasDuration)
            "$($g.Name)=$($g.Count)/$(if ($timed) { ($timed | Measure-Object DurationNs -Sum).Sum } else { '' })"
        }
        [string[]] $sorted = $lines
        [Array]::Sort($sorted, [StringComparer]::Ordinal)
        $sorted -join ' '
    }
}

Describe 'Invoke-UTraceQuery over a recorded trace' -Skip:$noBpf {
    BeforeAll {
        $file = Join-Path $TestDrive 'fib.arrow'
        Start-UTrace -Command "$FixtureBin/gcc-O2-pie/fib 10" -OutFile $file | Out-Null
        $events = @(Import-UTrace $file)
    }

    It 'counts the calls per function as Measure-UTrace does, and sums their durations as Import-UTrace reads them' {
        $rows = @(Invoke-UTraceQuery $byFunction $file)
        ($rows | Where-Object function -EQ 'fib').calls | Should -Be 177
        $measured = Measure-UTrace -Path $file
        ($rows | ForEach-Object { "$($_.function)=$($_.calls)" } | Sort-Object) -join ' ' |
            Should -Be (($measured | ForEach-Object { "$($_.Function)=$($_.Calls)" } | Sort-Object) -join ' ')
        Format-Count $rows | Should -Be (Format-EventCount $events)
        # Not recursive: Measure-UTrace's Total is the plain sum.
        ($rows | Where-Object function -EQ 'main').total | Should -Be ($measured | Where-Object Function -EQ 'main').Total.Nanoseconds
    }

    It 'gives every column of format 2, typed, with the values of the CallEvent' {
        $row = Invoke-UTraceQuery 'SELECT * FROM calls WHERE function = ''fib'' AND depth = 1' $file
        $e = $events | Where-Object { $_.Function -eq 'fib' -and $_.Depth -eq 1 }
        $row.PSObject.Properties.Name -join ',' |
            Should -Be 'function,module,program,caller,host,function_id,caller_id,pid,tid,depth,start,start_ns,kind,duration,self_duration,raw_duration,raw_self_duration,probe_cost,self_probe_cost,calls_inside,on_cpu,raw_on_cpu'
        $row.duration | Should -BeOfType [long]
        $row.start | Should -BeOfType [datetime]
        $row.start.Kind | Should -Be 'Utc'
        "$($row.module) $($row.program) $($row.caller) $($row.host) $($row.pid) $($row.tid) $($row.kind)" |
            Should -Be "$($e.Module) $($e.Program) $($e.Caller) $($e.ComputerName) $($e.ProcessId) $($e.ThreadId) timed"
        $trace = [Utrace.TraceFile]::Open($file)
        $anchor = $trace.Context.StartMonotonicNs
        $trace.Dispose()
        "$($row.start_ns) $($row.duration) $($row.self_duration) $($row.raw_duration) $($row.probe_cost) $($row.calls_inside)" |
            Should -Be "$($anchor + $e.StartNs) $($e.DurationNs) $($e.SelfNs) $($e.RawDurationNs) $($e.ProbeCostNs) $($e.CallsInside)"
        # DuckDB's TIMESTAMPTZ keeps the microsecond: within 10 ticks of 100 ns of the call's start (integer arithmetic).
        [math]::Abs(([datetime]$e.Start - $row.start).Ticks) | Should -BeLessThan 10
    }

    It 'answers p99 per function: one row each, a duration that 99% of its calls do not exceed' {
        $rows = @(Invoke-UTraceQuery 'SELECT function, quantile_disc(duration, 0.99) AS p99 FROM calls GROUP BY function' $file)
        ($rows.function | Sort-Object) -join ',' | Should -Be (($events.Function | Sort-Object -Unique) -join ',')
        foreach ($row in $rows) {
            $durations = @($events | Where-Object Function -EQ $row.function | ForEach-Object DurationNs)
            $durations | Should -Contain $row.p99
            @($durations | Where-Object { $_ -le $row.p99 }).Count | Should -BeGreaterOrEqual ([math]::Ceiling(0.99 * $durations.Count))
        }
    }

    It 'unions the files Get-ChildItem passes down the pipeline: twice the calls' {
        $dir = Join-Path $TestDrive 'two'
        $null = New-Item -ItemType Directory $dir
        Copy-Item $file (Join-Path $dir 'a.arrow')
        Copy-Item $file (Join-Path $dir 'b.arrow')
        $rows = @(Get-ChildItem $dir | Invoke-UTraceQuery $byFunction)
        ($rows | Where-Object function -EQ 'fib').calls | Should -Be 354
        Format-Count $rows | Should -Be (Format-EventCount ($events + $events))
    }

    It 'reads a Parquet file as it reads the trace' {
        $parquet = Join-Path $TestDrive 'fib.parquet'
        Invoke-UTraceQuery "COPY (SELECT * FROM calls) TO '$parquet' (FORMAT parquet)" $file | Out-Null
        Format-Count (Invoke-UTraceQuery $byFunction $parquet) | Should -Be (Format-EventCount $events)
        (Invoke-UTraceQuery 'SELECT count(*) AS n FROM calls' $file, $parquet).n | Should -Be (2 * $events.Count)
    }

    It 'stops a running query when the pipeline is stopped' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$((Get-Module Utrace).Path)'; Invoke-UTraceQuery 'SELECT count(*) FROM range(1000000000000) a, calls' '$file'")
        $running = $ps.BeginInvoke()
        while ($ps.InvocationStateInfo.State -ne 'Running') { Start-Sleep -Milliseconds 50 }
        Start-Sleep -Milliseconds 500
        # Without the interrupt the query would run for hours: a generous bound only guards against a hang.
        $ps.BeginStop($null, $null).AsyncWaitHandle.WaitOne(60000) | Should -BeTrue
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $running.IsCompleted | Should -BeTrue
        $ps.Dispose()
    }

    It 'refuses bad SQL with a parser error that names the query' {
        $err = Get-ErrorRecord { Invoke-UTraceQuery 'SELEC function FROM calls' $file }
        $err.FullyQualifiedErrorId | Should -Be 'QuerySyntaxError,Utrace.PowerShell.InvokeUTraceQueryCommand'
        $err.CategoryInfo.Category | Should -Be 'ParserError'
        $err.TargetObject | Should -Be 'SELEC function FROM calls'
        $err.Exception.Message | Should -BeLike '*syntax error at or near "SELEC"*'
        $err = Get-ErrorRecord { Invoke-UTraceQuery 'SELECT no_such_column FROM calls' $file }
        $err.FullyQualifiedErrorId | Should -Be 'InvalidQuery,Utrace.PowerShell.InvokeUTraceQueryCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -BeLike '*no_such_column*'
    }

    It 'says clearly when a file is missing or is not a trace, and queries the others' {
        $rows = @(Invoke-UTraceQuery 'SELECT count(*) AS n FROM calls' (Join-Path $TestDrive 'none*.arrow'), $file -ErrorVariable missing -ErrorAction SilentlyContinue)
        $missing[0].FullyQualifiedErrorId | Should -Be 'TraceFileNotFound,Utrace.PowerShell.InvokeUTraceQueryCommand'
        $missing[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $rows.n | Should -Be $events.Count
        $notTrace = Join-Path $TestDrive 'notes.txt'
        Set-Content -Path $notTrace -Value 'not a trace'
        Invoke-UTraceQuery 'SELECT 1' -LiteralPath $notTrace -ErrorVariable bad -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $bad[0].FullyQualifiedErrorId | Should -Be 'InvalidTraceFile,Utrace.PowerShell.InvokeUTraceQueryCommand'
        $bad[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }
}

Describe 'Invoke-UTraceQuery over older files and plain values' {
    It 'derives the names of a format 1.0 file from its function table' {
        Format-Count (Invoke-UTraceQuery $byFunction $format10) | Should -Be (Format-EventCount (Import-UTrace $format10))
    }

    It 'gives an INTERVAL as a Duration and a sum of BIGINTs as a long' {
        $row = Invoke-UTraceQuery 'SELECT INTERVAL 1500 MICROSECONDS AS d, sum(x) AS s, NULL AS n FROM (VALUES (2::BIGINT), (3::BIGINT)) t(x)' $format10
        $row.d | Should -BeOfType [Utrace.Duration]
        $row.d.Nanoseconds | Should -Be 1500000
        $row.s | Should -BeOfType [long]
        $row.s | Should -Be 5
        $row.n | Should -BeNullOrEmpty
    }
}
