BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $variants = @(Get-FixtureVariant)
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Start-UTrace -Command on <Variant>' -ForEach $variants -Skip:$noBpf {
    It 'fib(10) makes exactly 177 calls of fib, nested 10 deep under main' {
        $events = Start-UTrace -Command "$Dir/fib 10"
        $fib = @($events | Where-Object Function -EQ 'fib')
        $fib.Count | Should -Be 177
        @($events | Where-Object Function -EQ 'main').Count | Should -Be 1
        ($events | Where-Object Function -EQ 'main').Depth | Should -Be 0
        ($fib | Measure-Object Depth -Minimum -Maximum).Minimum | Should -Be 1
        ($fib | Measure-Object Depth -Minimum -Maximum).Maximum | Should -Be 10
        @($fib | Where-Object Depth -EQ 1).Caller | Should -Be 'main'
        @($fib | Where-Object Depth -GT 1 | Where-Object Caller -NE 'fib').Count | Should -Be 0
        $fib[0].Module | Should -Be 'fib'
        $fib[0].ProcessId | Should -Be $fib[0].ThreadId
        $LASTEXITCODE | Should -Be 0
    }

    It 'main -> a -> b -> c gives depths 0..3, the right callers and the exit code' {
        $events = Start-UTrace -Command "$Dir/chain" -WarningVariable warnings -WarningAction SilentlyContinue
        $byName = @{}
        $events | ForEach-Object { $byName[$_.Function] = $_ }
        foreach ($expected in @(('main', 0, $null), ('a', 1, 'main'), ('b', 2, 'a'), ('c', 3, 'b'))) {
            $byName[$expected[0]].Depth | Should -Be $expected[1]
            $byName[$expected[0]].Caller | Should -Be $expected[2]
        }
        $LASTEXITCODE | Should -Be 3
        $warnings | Should -Match 'exited with code 3'
    }

    It 'times a 50 ms sleep as at least 50 ms and keeps traced children out of SelfDuration' {
        $events = Start-UTrace -Command "$Dir/chain" -WarningAction SilentlyContinue
        # usleep(50 ms) lasts at least 50 ms; b sleeps 20 ms and calls c: at least 70 ms. No upper bound holds on a busy machine.
        $c = $events | Where-Object Function -EQ 'c'
        $c.Duration | Should -BeGreaterOrEqual ([Utrace.Duration]::Parse('50ms'))
        $b = $events | Where-Object Function -EQ 'b'
        $b.Duration | Should -BeGreaterOrEqual ([Utrace.Duration]::Parse('70ms'))
        $children = $events | Where-Object { $_.Caller -eq 'b' -and $_.Depth -eq $b.Depth + 1 }
        ($children.Function | Sort-Object) -join ',' | Should -Be 'c,usleep'
        $b.SelfNs | Should -Be ($b.DurationNs - ($children | Measure-Object DurationNs -Sum).Sum)
        # A call's measured interval contains its children's.
        foreach ($child in $children) {
            $child.StartNs | Should -BeGreaterOrEqual $b.StartNs
            $child.StartNs + $child.RawDurationNs | Should -BeLessOrEqual ($b.StartNs + $b.RawDurationNs)
        }
    }

    It 'names library calls through the PLT and the library that provides them' {
        $events = Start-UTrace -Command "$Dir/libcalls" | Where-Object Depth -GE 1
        @($events | Where-Object Function -EQ 'puts').Count | Should -Be 2
        @($events | Where-Object Function -EQ 'malloc').Count | Should -Be 3
        @($events | Where-Object Function -EQ 'usleep').Count | Should -Be 1
        @($events | Where-Object Function -EQ 'make').Count | Should -Be 3
        @($events | Where-Object { $_.Function -eq 'malloc' -and $_.Caller -ne 'make' }).Count | Should -Be 0
        ($events | Where-Object Function -EQ 'puts')[0].Module | Should -Be 'libc.so.6'
    }

    It 'demangles a namespaced method and a template function' {
        $events = Start-UTrace -Command "$Dir/cxx"
        @($events | Where-Object Function -EQ 'geo::Shape::area() const').Count | Should -Be 5
        @($events | Where-Object Function -EQ 'int twice<int>(int)').Count | Should -Be 3
    }

    It 'lets C++ exceptions pass through traced functions' {
        $job = Start-UTrace -Command "$Dir/throws" -AsJob
        $job | Wait-Job -Timeout 30 | Out-Null
        $events = Receive-Job $job
        $job.Summary.ExitCode | Should -Be 0
        @($events | Where-Object Function -EQ 'handle(int)').Count | Should -Be 6
        @($events | Where-Object Function -EQ 'check(int)').Count | Should -Be 3
        @($events | Where-Object Function -EQ 'validate(int)').Count | Should -Be 3
        @($events | Where-Object Function -EQ '__cxa_begin_catch').Count | Should -Be 3
        # Each throw unwinds check, validate and the __cxa_throw library call without a return.
        $job.Summary.CallsUnwound | Should -Be 9
        @($events | Where-Object Function -EQ 'main').Count | Should -Be 1
        # The unwound calls' own time stays in their caller's self time, their reported callees'
        # (__cxa_allocate_exception...) does not: measured self times add up to the outermost calls' measured time.
        ($events | Measure-Object RawSelfNs -Sum).Sum | Should -Be ($events | Where-Object Depth -EQ 0 | Measure-Object RawDurationNs -Sum).Sum
        Remove-Job $job
    }

    It 'leaves a forked child unharmed and unreported' {
        $events = Start-UTrace -Command "$Dir/forks"
        $LASTEXITCODE | Should -Be 0
        @($events.ProcessId | Sort-Object -Unique).Count | Should -Be 1
        @($events | Where-Object Function -EQ 'work').Count | Should -Be 1
        @($events | Where-Object Function -EQ 'spawn').Count | Should -Be 1
        ($events | Where-Object Function -EQ 'fork').Caller | Should -Be 'spawn'
    }

    It 'traces 4 threads calling work() 1000 times each' {
        $events = Start-UTrace -Command "$Dir/threads"
        $work = $events | Where-Object Function -EQ 'work'
        $groups = $work | Group-Object ThreadId
        $groups.Count | Should -Be 4
        $groups | ForEach-Object { $_.Count | Should -Be 1000 }
        # Each thread starts in the static run(), which the symbol table names too.
        @($work | Where-Object { $_.Depth -ne 1 -or $_.Caller -ne 'run' }).Count | Should -Be 0
        @($events | Where-Object Function -EQ 'run').Count | Should -Be 4
        $main = $events | Where-Object Function -EQ 'main'
        $groups.Name | Should -Not -Contain $main.ThreadId
    }
}

Describe 'The user''s pipeline' -Skip:$noBpf {
    BeforeAll {
        $slowfast = Join-Path $FixtureBin 'gcc-O2-pie/slowfast'
        $events = Start-UTrace -Command $slowfast
    }

    It 'Where Duration -gt 1ms | Group-Object Function | Export-Csv yields the slow calls' {
        $csv = Join-Path $TestDrive 'slow.csv'
        # Every call left is at least 3 ms long by construction (fast, which may be preempted, is not traced).
        Start-UTrace -Command $slowfast -ExcludeFunction fast, __cxa_finalize | Where Duration -gt 1ms | Group-Object Function | Export-Csv $csv
        $rows = Import-Csv $csv | Sort-Object Name
        ($rows | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ';' | Should -Be 'main=1;slow=4;usleep=4'
    }

    It 'Select-Object -First ends the trace and the program, and still sets -SummaryVariable and $LASTEXITCODE' {
        # fib 30 makes 1,664,079 traced calls: it is still running when the first three arrive.
        $first = @(Start-UTrace -Command "$(Join-Path $FixtureBin 'gcc-O2-pie/fib') 30" -Function fib -SummaryVariable summary | Select-Object -First 3)
        $first.Count | Should -Be 3
        $summary.State | Should -Be 'Stopped'
        $summary.ExitCode | Should -Be 143 -Because 'Utrace ended the program with SIGTERM'
        $LASTEXITCODE | Should -Be 143
    }

    It 'compares Duration with <Text> as integer nanoseconds compare' -ForEach @(
        @{ Text = '250us'; Nanoseconds = 250000 }, @{ Text = '2.5ms'; Nanoseconds = 2500000 }, @{ Text = '100ns'; Nanoseconds = 100 }, @{ Text = '2.5s'; Nanoseconds = 2500000000 }
    ) {
        $events.Count | Should -Be 110   # fast 100, slow 4, usleep 4, main, __cxa_finalize at exit
        $greater = @($events | Where-Object DurationNs -GT $Nanoseconds)
        @($events | Where-Object Duration -GT $Text).Count | Should -Be $greater.Count
        @($events | Where-Object Duration -LE $Text).Count | Should -Be ($events.Count - $greater.Count)
        @($events | Where-Object Duration -GT ([timespan]::FromTicks($Nanoseconds / 100))).Count | Should -Be $greater.Count
        # Lower bounds that hold by construction: slow calls usleep(3000).
        @($events | Where-Object Duration -GT '2.5ms' | Where-Object Function -EQ 'slow').Count | Should -Be 4
    }

    It 'sorts by Duration: main contains every other call and comes first; fast is faster than slow' {
        # __cxa_finalize runs after main returns: nothing bounds its duration.
        $inMain = @($events | Where-Object Function -NE '__cxa_finalize')
        $sorted = @($inMain | Sort-Object Duration -Descending)
        $sorted[0].Function | Should -Be 'main'
        @($sorted.DurationNs) -join ',' | Should -Be ((@($inMain.DurationNs) | Sort-Object -Descending) -join ',')
        # Half of 100 calls of a one-line function would have to be preempted for 3 ms to break this.
        $fast = @($events | Where-Object Function -EQ 'fast' | Sort-Object Duration)
        $fast.Count | Should -Be 100
        $fast[49].Duration | Should -BeLessThan ($events | Where-Object Function -EQ 'slow' | Sort-Object Duration | Select-Object -First 1).Duration
    }
}

Describe 'Start-UTrace -ProcessId' -Skip:$noBpf {
    BeforeEach {
        $server = Start-ServerFixture (Join-Path $FixtureBin 'gcc-O2-pie/server')
    }
    AfterEach {
        if (-not $server.HasExited) { $server.Kill() }
        Get-Job -Name 'UTrace*' -ErrorAction SilentlyContinue | Remove-Job -Force
    }

    It 'traces existing threads, and the process keeps running after Stop-UTrace' {
        $job = Start-UTrace -ProcessId $server.Id -AsJob -Confirm:$false
        $job | Should -BeOfType Utrace.PowerShell.UTraceJob
        Invoke-ServerRequest $server -Count 5
        $summary = Stop-UTrace $job
        $summary.State | Should -Be 'Stopped'
        $events = Receive-Job $job
        @($events | Where-Object Function -EQ 'handle_request').Count | Should -Be 5
        @($events | Where-Object Function -EQ 'background_task').Count | Should -Be 5
        @($events.ThreadId | Sort-Object -Unique).Count | Should -Be 2
        $summary.EventsDelivered | Should -Be $events.Count
        $summary.EventsDropped | Should -Be 0
        Invoke-ServerRequest $server
        $server.HasExited | Should -BeFalse
        $job.State | Should -Be 'Stopped'
    }

    It 'binds Get-Process output by Id' {
        $job = Get-Process -Id $server.Id | Start-UTrace -AsJob -Confirm:$false
        $job.ProcessId | Should -Be $server.Id
        Invoke-ServerRequest $server -Count 3
        Stop-UTrace -TraceId $job.TraceId | Out-Null
        @(Receive-Job $job | Where-Object Function -EQ 'handle_request').Count | Should -Be 3
    }

    It 'Stop-Job stops the trace and leaves the process running' {
        $job = Start-UTrace -ProcessId $server.Id -AsJob -Confirm:$false
        Invoke-ServerRequest $server -Count 2
        Stop-Job $job
        $job.State | Should -Be 'Stopped'
        @(Receive-Job $job | Where-Object Function -EQ 'handle_request').Count | Should -Be 2
        Invoke-ServerRequest $server
        $server.HasExited | Should -BeFalse
    }

    It 'traces the functions of a library the running process has mapped (-NestLibrary)' {
        $job = Start-UTrace -ProcessId $server.Id -NestLibrary 'libc.so*' -Function pthread_cond_broadcast -AsJob -Confirm:$false
        Invoke-ServerRequest $server -Count 3
        Stop-UTrace $job | Out-Null
        $events = Receive-Job $job
        # Per request, the main thread broadcasts once and the worker once, both inside libc.
        @($events | Where-Object Function -EQ 'pthread_cond_broadcast').Count | Should -Be 6
        ($events.Module | Sort-Object -Unique) | Should -Be 'libc.so.6'
        @($events.ThreadId | Sort-Object -Unique).Count | Should -Be 2
    }

    It 'ends the job when the traced process exits' {
        $job = Start-UTrace -ProcessId $server.Id -AsJob -Confirm:$false
        Invoke-ServerRequest $server -Count 2
        $server.StandardInput.Close()
        $server.WaitForExit()
        $job | Wait-Job -Timeout 10 | Out-Null
        $job.State | Should -Be 'Completed'
        @(Receive-Job $job | Where-Object Function -EQ 'background_task').Count | Should -Be 2
    }
}

# Listing reads the process's ELF files and maps: no BPF needed.
Describe 'The end of a trace of a busy process' -Skip:$noBpf {
    BeforeAll {
        $ticker = [Diagnostics.Process]::Start((Join-Path $FixtureBin 'gcc-O2-pie/ticker'))

        # Per thread, work's count minus tick's: 0, plus 1 for a tick already running when the probes were attached
        # (its return is not probed, its work is), plus 1 for a tick still running when the recording ended.
        function Get-Unfinished($Events) {
            $Events | Group-Object ThreadId | ForEach-Object {
                @($_.Group | Where-Object Function -EQ 'work').Count - @($_.Group | Where-Object Function -EQ 'tick').Count
            }
        }
    }
    AfterAll {
        $ticker.Kill()
    }

    It 'reports, up to the stop, each call with every call inside it: <Case>' -ForEach @(
        @{ Case = 'events'; Summary = $false }, @{ Case = '-Summary'; Summary = $true }
    ) {
        $job = Start-UTrace -ProcessId $ticker.Id -Function tick, work -Summary:$Summary -AsJob -Confirm:$false
        Start-Sleep -Milliseconds 300
        Stop-UTrace $job | Out-Null
        $received = @(Receive-Job $job)
        Remove-Job $job
        if ($Summary) {
            $calls = @{}
            $received | ForEach-Object { $calls[$_.Function] = $_.Calls }
            $calls['work'] - $calls['tick'] | Should -BeIn 0, 1, 2, 3
            $calls['tick'] | Should -BeGreaterThan 0
        }
        else {
            @($received.ThreadId | Sort-Object -Unique).Count | Should -Be 3
            Get-Unfinished $received | ForEach-Object { $_ | Should -BeIn 0, 1, 2 }
        }
        $ticker.HasExited | Should -BeFalse
    }
}

Describe 'Get-UTraceFunction -ProcessId' {
    BeforeAll {
        $server = Start-ServerFixture (Join-Path $FixtureBin 'gcc-O2-pie/server')
    }
    AfterAll {
        $server.Kill()
    }

    It 'lists the functions of the running process' {
        $functions = Get-UTraceFunction -ProcessId $server.Id -Function handle_request, background_task, pthread_create
        ($functions | ForEach-Object { "$($_.Kind):$($_.Name):$($_.Module)" } | Sort-Object) -join ' ' |
            Should -Be 'Function:background_task:server Function:handle_request:server LibraryCall:pthread_create:libc.so.6'
    }

    It 'lists the libraries of a process started a moment ago, as they are once it runs (20 starts)' {
        # forkhold waits for a file that never comes; it needs libstdc++, libgcc_s and libc.
        $program = Join-Path $FixtureBin 'gcc-O2-pie/forkhold'
        $selection = @{ NestLibrary = 'libc.so*', 'libstdc++*'; Function = 'mem*', '_ZNSo5flushEv' }
        $expected = Get-UTraceFunction -Path $program @selection | ForEach-Object { "$($_.Kind):$($_.Name):$($_.Module)" } | Sort-Object
        @($expected | Where-Object { $_ -like 'Export:*:libstdc++.so.6' }).Count | Should -Be 1
        @($expected | Where-Object { $_ -like 'Export:mem*:libc.so.6' }).Count | Should -BeGreaterThan 1
        foreach ($start in 1..20) {
            $process = Start-Process $program -ArgumentList $TestDrive -PassThru
            try {
                $functions = Get-UTraceFunction -ProcessId $process.Id @selection -WarningVariable warnings
                $warnings | Should -BeNullOrEmpty -Because "start $start"
                $functions | ForEach-Object { "$($_.Kind):$($_.Name):$($_.Module)" } | Sort-Object | Should -Be $expected -Because "start $start"
            }
            finally {
                $process.Kill()
                $process.WaitForExit()
            }
        }
    }
}

Describe 'Start-UTrace -AsJob with -Command' -Skip:$noBpf {
    It 'Receive-Job yields the CallEvents of a finished command' {
        $job = Start-UTrace -Command (Join-Path $FixtureBin 'clang-O2-nopie/fib') -ArgumentList 12 -AsJob
        $job | Wait-Job -Timeout 30 | Out-Null
        $job.State | Should -Be 'Completed'
        @(Receive-Job $job | Where-Object Function -EQ 'fib').Count | Should -Be 465
        $job.Summary.ExitCode | Should -Be 0
        Remove-Job $job
    }

    It 'Receive-Job -Wait -AutoRemoveJob yields the CallEvents, then removes the job' {
        # In a pwsh of its own (a thread job's runspace would not hold the job to remove), so that
        # a Receive-Job that never returns fails the test instead of hanging it.
        $script = "Import-Module '$(Join-Path $PSScriptRoot '../../Utrace.psd1')'; " +
            "`$job = Start-UTrace -Command '$(Join-Path $FixtureBin 'gcc-O2-pie/fib')' -ArgumentList 10 -Function fib -AsJob; " +
            "`$events = @(Receive-Job `$job -Wait -AutoRemoveJob); 'events ' + `$events.Count; 'jobs ' + @(Get-Job).Count"
        $info = [Diagnostics.ProcessStartInfo]::new('pwsh')
        foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $script) { $info.ArgumentList.Add($argument) }
        $info.RedirectStandardOutput = $true
        $pwsh = [Diagnostics.Process]::Start($info)
        $output = $pwsh.StandardOutput.ReadToEndAsync()
        $exited = $pwsh.WaitForExit(60000)
        if (-not $exited) { $pwsh.Kill() }
        $exited | Should -BeTrue -Because 'Receive-Job returns once the trace has ended'
        $output.Result -split "`n" | Where-Object { $_ -match '^(events|jobs) ' } | ForEach-Object Trim |
            Should -Be @('events 177', 'jobs 0')
    }

    It 'starts the command with the signal dispositions a shell would give it' {
        $job = Start-UTrace -Command 'sleep 30' -AsJob
        # Wait for the launcher to have become sleep.
        $deadline = (Get-Date).AddSeconds(5)
        while ((Get-Content "/proc/$($job.ProcessId)/comm") -ne 'sleep' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 10 }
        Get-Content "/proc/$($job.ProcessId)/comm" | Should -Be 'sleep'
        $ignored = (Get-Content "/proc/$($job.ProcessId)/status" | Where-Object { $_ -like 'SigIgn:*' }) -replace 'SigIgn:\s*'
        Stop-UTrace $job | Out-Null
        $ignored | Should -Be '0000000000000000'
        Remove-Job $job -Force
    }

    It 'Stop-UTrace -All stops running traces and terminates a launched command' {
        $job = Start-UTrace -Command 'sleep 30' -AsJob
        $summaries = @(Stop-UTrace -All)
        $summaries.Count | Should -Be 1
        $summaries[0].State | Should -Be 'Stopped'
        $summaries[0].Id | Should -Be $job.TraceId
        Get-Process -Id $summaries[0].ProcessId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Remove-Job $job -Force
    }
}

Describe 'Bad input' {
    It '<Case> is a <Category> error <ErrorId> on <Target> with a hint' -ForEach @(
        @{ Case = 'a program that does not exist'; Script = { Start-UTrace -Command './no-such-program 1' }; Category = 'ObjectNotFound'; Target = './no-such-program'; Hint = 'current location'; ErrorId = 'ProgramNotFound' }
        @{ Case = 'a name not on PATH'; Script = { Start-UTrace -Command 'no-such-program-anywhere' }; Category = 'ObjectNotFound'; Target = 'no-such-program-anywhere'; Hint = 'PATH'; ErrorId = 'ProgramNotFound' }
        @{ Case = 'an unterminated quote'; Script = { Start-UTrace -Command "./fib 'ten" }; Category = 'InvalidArgument'; Target = "./fib 'ten"; Hint = '-ArgumentList'; ErrorId = 'UnterminatedQuote' }
        @{ Case = 'a file that is not ELF'; Script = { Start-UTrace -Command $notElf }; Category = 'InvalidData'; Target = $null; Hint = 'x86-64 ELF'; ErrorId = 'NotAnElfExecutable' }
        @{ Case = 'the PowerShell process itself'; Script = { Start-UTrace -ProcessId $PID -Confirm:$false }; Category = 'InvalidArgument'; Target = $PID; Hint = 'another PowerShell'; ErrorId = 'CannotTraceSelf' }
        @{ Case = 'a process that does not exist'; Script = { Start-UTrace -ProcessId 999999 -Confirm:$false }; Category = 'ObjectNotFound'; Target = 999999; Hint = 'Get-Process'; ErrorId = 'ProcessNotFound' }
    ) {
        $notElf = Join-Path $TestDrive 'script'
        Set-Content $notElf 'echo not a program'
        chmod +x $notElf
        $err = $null
        $ErrorActionPreference = 'Stop'
        try { & $Script } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.CategoryInfo.Category | Should -Be $Category
        $err.FullyQualifiedErrorId | Should -Be "$ErrorId,Utrace.PowerShell.StartUTraceCommand"
        if ($null -ne $Target) { $err.TargetObject | Should -Be $Target } else { $err.TargetObject | Should -Be $notElf }
        $err.ErrorDetails.RecommendedAction | Should -Match ([regex]::Escape($Hint))
        $err.Exception | Should -BeOfType Utrace.UtraceException
    }

    It 'Get-UTraceFunction reports a bad path as a non-terminating error' {
        $result = Get-UTraceFunction -Path ./no-such-program -ErrorVariable err -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].FullyQualifiedErrorId | Should -Be 'PathNotFound,Utrace.PowerShell.GetUTraceFunctionCommand'
    }

    It 'Stop-UTrace -TraceId of no running trace is an ObjectNotFound error' {
        Stop-UTrace -TraceId 424242 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be 424242
    }
}
