# The time each call spent on a CPU, from the scheduler's own accounting of the thread. Asserted are
# what physics guarantees: a sleeping call computes next to nothing, a call spinning at real-time
# priority holds its CPU, one spinning on a CPU shared with a busy thread does not hold it all the
# time, and no call is on a CPU for longer than it lasted or than the thread's own CPU clock says.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:program = Join-Path $FixtureBin 'gcc-O2-pie/oncpu'
}

Describe 'On-CPU time per call' -Skip:$noBpf {
    BeforeAll {
        $script:file = Join-Path ([IO.Path]::GetTempPath()) "utrace-oncpu-$PID.utrace"
        $script:clockFile = Join-Path ([IO.Path]::GetTempPath()) "utrace-oncpu-$PID.txt"
        $script:calls = @(Start-UTrace -Command "$program 3 $clockFile" -Function nap, spin, contended -OutFile $file -PassThru)
        # The fixture's own CLOCK_THREAD_CPUTIME_ID around each call, probes included: "<function> <ns>".
        $script:output = @(Get-Content $clockFile)
        $script:threadCpu = @($output | Where-Object { $_ -match '^(nap|spin|contended) \d+$' })
    }
    AfterAll { Remove-Item $file, $clockFile -ErrorAction SilentlyContinue }

    It 'runs each call it traces, at real-time priority for the spinning ones' {
        ($calls | ForEach-Object Function) -join ' ' | Should -Be 'nap spin nap spin nap spin contended'
        ($threadCpu | ForEach-Object { ($_ -split ' ')[0] }) -join ' ' | Should -Be 'nap spin nap spin nap spin contended'
        @($output | Where-Object { $_ -eq 'realtime no' }).Count | Should -Be 0
    }

    It 'gives a call that sleeps 10 ms next to no time on a CPU' {
        foreach ($nap in $calls | Where-Object Function -eq nap) {
            $nap.Duration.Nanoseconds | Should -BeGreaterOrEqual 10000000
            $nap.OnCpuNs | Should -BeLessThan 2000000
        }
    }

    It 'gives a call that spins 10 ms, alone on its CPU, about its whole duration on a CPU' {
        foreach ($spin in $calls | Where-Object Function -eq spin) {
            $spin.OnCpuNs | Should -BeGreaterOrEqual (0.8 * $spin.DurationNs)
            $spin.OnCpu | Should -BeOfType [Utrace.Duration]
        }
    }

    It 'gives a call that spins on a CPU shared with a busy thread less time on a CPU than it lasted' {
        $contended = $calls | Where-Object Function -eq contended
        $contended.RawOnCpuNs | Should -BeLessThan $contended.RawDurationNs
    }

    It 'never exceeds the duration nor the thread''s own CPU clock around the call' {
        for ($i = 0; $i -lt $calls.Count; $i++) {
            $calls[$i].OnCpuNs | Should -BeLessOrEqual $calls[$i].DurationNs
            $calls[$i].RawOnCpuNs | Should -BeLessOrEqual $calls[$i].RawDurationNs
            $calls[$i].OnCpuNs | Should -Be ([Math]::Min($calls[$i].DurationNs, [Math]::Max(0, $calls[$i].RawOnCpuNs - $calls[$i].ProbeCostNs)))
            # The clock around the call also counts its probes' parts outside the call's timestamps: 50 us of slack
            # for the two clocks' rounding.
            $calls[$i].RawOnCpuNs | Should -BeLessOrEqual ([long](($threadCpu[$i] -split ' ')[1]) + 50000)
        }
    }

    It 'keeps the on-CPU time in the trace file, and has none for a call without a duration' {
        $read = @(Import-UTrace $file)
        ($read | ForEach-Object RawOnCpuNs) -join ' ' | Should -Be (($calls | ForEach-Object RawOnCpuNs) -join ' ')
        $entryOnly = @(Start-UTrace -Command "$program 1 /dev/null" -Function nap -ReturnMode EntryOnly)
        $entryOnly.Count | Should -Be 1
        $entryOnly[0].OnCpu | Should -BeNullOrEmpty
        $entryOnly[0].OnCpuNs | Should -BeNullOrEmpty
    }

    It 'sums it per function in Measure-UTrace, next to the total' {
        $summary = $calls | Measure-UTrace | Where-Object Function -eq spin
        $summary.OnCpu.Nanoseconds | Should -Be (($calls | Where-Object Function -eq spin | Measure-Object OnCpuNs -Sum).Sum)
        (Measure-UTrace -Path $file | Where-Object Function -eq spin).OnCpu | Should -Be $summary.OnCpu
    }

    It 'is summed in the kernel by -Summary, as measured' {
        $rows = @(Start-UTrace -Command "$program 2 /dev/null" -Function nap, spin -Summary)
        $nap = $rows | Where-Object Function -eq nap
        $spin = $rows | Where-Object Function -eq spin
        $nap.Calls, $spin.Calls | Should -Be 2, 2
        $nap.OnCpu.Nanoseconds | Should -BeLessThan (2 * 2000000)
        $spin.OnCpu.Nanoseconds | Should -BeGreaterOrEqual (0.8 * $spin.Total.Nanoseconds)
        $spin.OnCpu.Nanoseconds | Should -BeLessOrEqual $spin.Total.Nanoseconds
    }

    It 'travels through Export-Csv and Export-Clixml exactly' {
        $csv = Join-Path ([IO.Path]::GetTempPath()) "utrace-oncpu-$PID.csv"
        $xml = Join-Path ([IO.Path]::GetTempPath()) "utrace-oncpu-$PID.xml"
        try {
            $calls | Export-Csv $csv
            $calls | Export-Clixml $xml
            $expected = ($calls | Measure-UTrace | ForEach-Object { "$($_.Function)=$($_.OnCpu.Nanoseconds)" }) -join ' '
            (Import-Csv $csv | Measure-UTrace | ForEach-Object { "$($_.Function)=$($_.OnCpu.Nanoseconds)" }) -join ' ' | Should -Be $expected
            (Import-Clixml $xml | Measure-UTrace | ForEach-Object { "$($_.Function)=$($_.OnCpu.Nanoseconds)" }) -join ' ' | Should -Be $expected
        }
        finally {
            Remove-Item $csv, $xml -ErrorAction SilentlyContinue
        }
    }
}
