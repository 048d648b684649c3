# Start-UTrace -Summary: calls aggregated per function in the kernel, no event per call.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $bin = Join-Path $FixtureBin 'gcc-O2-pie'
}

Describe 'Start-UTrace -Summary' -Skip:$noBpf {
    It 'counts fib(10) exactly, with the same calls per function as Measure-UTrace of the events' {
        $summary = @(Start-UTrace -Command "$bin/fib 10" -Summary)
        $LASTEXITCODE | Should -Be 0
        $summary | ForEach-Object { $_ | Should -BeOfType ([Utrace.FunctionSummary]) }
        $fib = $summary | Where-Object Function -EQ 'fib'
        $fib.Calls | Should -Be 177
        ($fib.Histogram.Buckets | Measure-Object -Sum).Sum | Should -Be 177
        ($summary | Where-Object Function -EQ 'main').Calls | Should -Be 1
        # fib's outermost call holds every other one: its Total is that call, its Max.
        $fib.Total | Should -Be $fib.Max
        $fib.Min | Should -BeLessOrEqual $fib.Average
        [math]::Round(($summary | Measure-Object SelfPercent -Sum).Sum, 6) | Should -Be 100
        $live = Start-UTrace -Command "$bin/fib 10" | Measure-UTrace
        ($summary | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls)" }) -join ' ' |
            Should -Be (($live | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls)" }) -join ' ')
    }

    It 'places each call in its power-of-two bucket: slow sleeps 3 ms, 4 times' {
        $slow = Start-UTrace -Command "$bin/slowfast" -Summary | Where-Object Function -EQ 'slow'
        $slow.Calls | Should -Be 4
        ($slow.Histogram.Buckets | Measure-Object -Sum).Sum | Should -Be 4
        # 3 ms is at least 2^21 ns: no call can be in a lower bucket (a preempted one is only longer).
        ($slow.Histogram.Buckets[0..20] | Measure-Object -Sum).Sum | Should -Be 0
        $slow.Min | Should -BeGreaterOrEqual ([Utrace.Duration]::Parse('3ms'))
    }

    It 'summarizes a running process in a job, written when Stop-UTrace ends it' {
        $server = Start-ServerFixture (Join-Path $bin 'server')
        try {
            $job = Start-UTrace -ProcessId $server.Id -Function 'handle_request' -Summary -AsJob -Confirm:$false
            Invoke-ServerRequest $server -Count 3
            $null = Stop-UTrace $job
            $result = @(Receive-Job $job -Wait)
            $result.Count | Should -Be 1
            $result[0].Function | Should -Be 'handle_request'
            $result[0].Calls | Should -Be 3
        }
        finally {
            $server.Kill()
        }
    }

    It 'applies -MaxDepth and -MinDuration as a trace of events does' {
        $shallow = @(Start-UTrace -Command "$bin/fib 10" -Summary -MaxDepth 1)
        ($shallow | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls)" }) -join ' ' |
            Should -Be '__cxa_finalize=1 fib=1 main=1 printf=1 strtol=1'
        [math]::Round(($shallow | Measure-Object SelfPercent -Sum).Sum, 6) | Should -Be 100
        # chain's a, b, c, main and two usleep calls take 20 ms or more by construction.
        $slow = @(Start-UTrace -Command "$bin/chain" -Summary -MinDuration 10ms -ExcludeFunction __cxa_finalize)
        ($slow | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls)" }) -join ' ' | Should -Be 'a=1 b=1 c=1 main=1 usleep=2'
    }

    It 'refuses -OutFile, which would have nothing to record' {
        Start-UTrace -Command "$bin/fib 3" -Summary -OutFile (Join-Path ([IO.Path]::GetTempPath()) 'x.arrows') -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'SummaryWithOutFile,Utrace.PowerShell.StartUTraceCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}
