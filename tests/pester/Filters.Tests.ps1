BeforeDiscovery {
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $bin = Join-Path $FixtureBin 'gcc-O2-pie'

    # Runs a trace as a job to completion and returns its events and summary.
    function Invoke-Trace([hashtable] $Parameters) {
        $job = Start-UTrace @Parameters -AsJob
        $job | Wait-Job -Timeout 60 | Out-Null
        $events = @(Receive-Job $job)
        $summary = $job.Summary
        Remove-Job $job
        [pscustomobject]@{ Events = $events; Summary = $summary }
    }

    function Get-Count($Events) {
        ($Events | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' '
    }
}

Describe 'Selecting functions' -Skip:$noBpf {
    It '-Function keeps only matching functions' {
        $events = Start-UTrace -Command "$bin/fib 10" -Function fib
        Get-Count $events | Should -Be 'fib=177'
        ($events | Measure-Object Depth -Minimum).Minimum | Should -Be 0
    }

    It 'reports the nearest traced parent as Caller when the one between is not traced' {
        $events = Start-UTrace -Command "$bin/chain" -Function a, c -WarningAction SilentlyContinue
        Get-Count $events | Should -Be 'a=1 c=1'
        $c = $events | Where-Object Function -EQ 'c'
        $c.Caller | Should -Be 'a'
        $c.Depth | Should -Be 1
    }

    It '-ExcludeFunction drops matching functions, with wildcards' {
        $events = Start-UTrace -Command "$bin/fib 10" -ExcludeFunction 'fi?', '__cxa*'
        Get-Count $events | Should -Be 'main=1 printf=1 strtol=1'
    }

    It 'matches demangled C++ names with wildcards' {
        $events = Start-UTrace -Command "$bin/cxx" -Function 'geo::*'
        Get-Count $events | Should -Be 'geo::Shape::area() const=5'
    }

    It '-Library keeps the calls into matching libraries and the program''s own functions' {
        $events = Start-UTrace -Command "$bin/throws" -Library 'libstdc++*'
        $calls = $events | Where-Object Module -NE 'throws'
        ($calls.Module | Sort-Object -Unique) -join ',' | Should -Be 'libstdc++.so.6'
        Get-Count $calls | Should -Be '__cxa_allocate_exception=3 __cxa_begin_catch=3 __cxa_end_catch=3 std::runtime_error::runtime_error(char const*)=3'
        @($events | Where-Object Function -EQ 'handle(int)').Count | Should -Be 6
    }

    It '-ExcludeLibrary drops the calls into matching libraries' {
        $events = Start-UTrace -Command "$bin/libcalls" -ExcludeLibrary 'libc.so*'
        Get-Count $events | Should -Be 'main=1 make=3'
    }

    It 'warns of a -Function pattern that matches nothing, with the C++ hint' {
        $events = Start-UTrace -Command "$bin/cxx" -Function main, twice -WarningVariable warned -WarningAction SilentlyContinue
        @($events | Where-Object Function -EQ 'main').Count | Should -Be 1
        @($warned).Count | Should -Be 1
        "$($warned[0])" | Should -Be "-Function 'twice' matches no function here; a C++ name includes its parameters, as in twice(int): 'twice*' matches those. Get-UTraceFunction lists the names."
        Get-UTraceFunction "$bin/cxx" -Function 'int twice*', nothere -WarningVariable listed -WarningAction SilentlyContinue | Select-Object -ExpandProperty Name | Should -Be 'int twice<int>(int)'
        "$($listed[0])" | Should -BeLike "-Function 'nothere' matches no function here;*"
    }

    It 'a selection that matches nothing is an ObjectNotFound error naming the count and Get-UTraceFunction' {
        $err = $null
        try { Start-UTrace -Command "$bin/fib" -Function 'no_such_*' -ErrorAction Stop } catch { $err = $_ }
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.FullyQualifiedErrorId | Should -Be 'NoFunctionMatches,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be "$bin/fib"
        $err.Exception.Message | Should -Match '\(5 functions and library calls exist\)'
        $err.ErrorDetails.RecommendedAction | Should -Match 'Get-UTraceFunction'
        $err.Exception.InnerException | Should -BeNullOrEmpty
    }
}

Describe 'Library functions (-NestLibrary)' -Skip:$noBpf {
    It 'reports none of the launcher''s own libc calls as the program''s (fib makes none of these)' {
        $launcherCalls = 'sigprocmask', 'signal', '__libc_sigaction', 'sigaction', 'sigtimedwait', 'getppid', 'execv', 'execve'
        $events = Start-UTrace -Command "$bin/fib 3" -NestLibrary 'libc.so*' -Function (@('fib') + $launcherCalls) -WarningAction SilentlyContinue
        ($events | Group-Object Function -NoElement | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' ' | Should -Be 'fib=5'
    }

    It 'traces the exports of a library and the calls it makes to itself, once each' {
        $nest = Join-Path $FixtureBin 'shared/nest'
        $events = Start-UTrace -Command $nest -NestLibrary 'libgreet*'
        Get-Count ($events | Where-Object Module -EQ 'libgreet.so') | Should -Be 'greet=3 greet_helper=6'
        @($events | Where-Object { $_.Function -eq 'greet_helper' -and $_.Caller -ne 'greet' }).Count | Should -Be 0
        ($events | Where-Object Function -EQ 'greet')[0].Caller | Should -Be 'main'
    }

    It 'reports only the traced process, not other users of the library' {
        $nest = Join-Path $FixtureBin 'shared/nest'
        $release = Join-Path $TestDrive 'release'
        $job = Start-UTrace -Command "$nest $release" -NestLibrary 'libgreet*' -AsJob
        try {
            # The traced nest has made its calls, seen by the trace, and now waits for $release: the probes are in place.
            $deadline = (Get-Date).AddSeconds(30)
            while (@($job.Output | Where-Object Module -EQ 'libgreet.so').Count -lt 9 -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
            @($job.Output | Where-Object Module -EQ 'libgreet.so').Count | Should -Be 9
            # Three other processes call greet 3 times each (their sum, 18, says so) while the trace is attached.
            1..3 | ForEach-Object { & $nest | Should -Be '18' }
            $job.State | Should -Be 'Running'
        }
        finally {
            New-Item -ItemType File $release | Out-Null
        }
        $job | Wait-Job -Timeout 30 | Out-Null
        $job.State | Should -Be 'Completed'
        $events = Receive-Job $job
        @($events.ProcessId | Sort-Object -Unique) | Should -Be @($job.ProcessId)
        Get-Count ($events | Where-Object Module -EQ 'libgreet.so') | Should -Be 'greet=3 greet_helper=6'
        Remove-Job $job
    }

    It 'traces sqlite3''s API with the counts its SQL script determines' {
        $counts = foreach ($statements in 3, 6) {
            $sql = Join-Path $TestDrive "script$statements.sql"
            $lines = 'CREATE TABLE t(x INTEGER);', 'INSERT INTO t VALUES (1),(2),(3);', 'SELECT sum(x) FROM t;',
                     'INSERT INTO t VALUES (4);', 'SELECT count(*) FROM t;', 'SELECT max(x) FROM t;'
            Set-Content $sql ($lines | Select-Object -First $statements)
            $trace = Invoke-Trace @{ Command = "sqlite3 :memory: -init $sql .quit"; NestLibrary = 'libsqlite3*' }
            $trace.Summary.EventsDropped | Should -Be 0
            $api = $trace.Events | Where-Object Function -Like 'sqlite3_*'
            ($api.Module | Sort-Object -Unique) | Should -Be 'libsqlite3.so.0'
            @($api | Where-Object Function -EQ 'sqlite3_open_v2').Count | Should -Be 1
            @($api | Where-Object Function -EQ 'sqlite3_mutex_enter').Count | Should -Be @($api | Where-Object Function -EQ 'sqlite3_mutex_leave').Count
            # The shell prepares with sqlite3_prepare, _v2 or _v3 depending on its version.
            @($api | Where-Object Function -In 'sqlite3_prepare', 'sqlite3_prepare_v2', 'sqlite3_prepare_v3').Count
        }
        # One prepare per statement of the script, plus the shell's own.
        $counts[1] - $counts[0] | Should -Be 3
    }
}

Describe 'Kernel-side filters' -Skip:$noBpf {
    It '-MaxDepth reports calls down to that depth, with true depths' {
        $events = Start-UTrace -Command "$bin/fib 10" -MaxDepth 3
        Get-Count $events | Should -Be '__cxa_finalize=1 fib=7 main=1 printf=1 strtol=1'
        ($events | Measure-Object Depth -Maximum).Maximum | Should -Be 3
        # The calls not reported stay in their callers' self time: measured self times add up to the traced time.
        ($events | Measure-Object RawSelfNs -Sum).Sum | Should -Be ($events | Where-Object Depth -EQ 0 | Measure-Object RawDurationNs -Sum).Sum
    }

    It '-MinDuration drops short calls in the kernel and keeps Depth and Caller of the rest' {
        $trace = Invoke-Trace @{ Command = "$bin/chain"; MinDuration = '10ms'; WarningAction = 'SilentlyContinue' }
        # These sleep 20 ms or more by construction; chain makes 7 calls in all (with __cxa_finalize at exit).
        Get-Count ($trace.Events | Where-Object Function -NE '__cxa_finalize') | Should -Be 'a=1 b=1 c=1 main=1 usleep=2'
        @($trace.Events | Where-Object DurationNs -LT 10000000).Count | Should -Be 0
        $c = $trace.Events | Where-Object Function -EQ 'c'
        $c.Depth | Should -Be 3
        $c.Caller | Should -Be 'b'
        # What was not sent stopped in the kernel, counted.
        $trace.Summary.EventsSent | Should -Be $trace.Events.Count
        $trace.Summary.EventsSent + $trace.Summary.EventsFiltered | Should -Be 7
        ($trace.Events | Measure-Object RawSelfNs -Sum).Sum | Should -Be ($trace.Events | Where-Object Depth -EQ 0 | Measure-Object RawDurationNs -Sum).Sum
    }

    It '-SummaryVariable hands back the summary of a foreground trace' {
        $events = Start-UTrace -Command "$bin/fib 10" -Function fib -MaxDepth 2 -SummaryVariable summary
        $events.Count | Should -Be 7   # depths 0, 1, 2: 1 + 2 + 4 calls
        $summary | Should -BeOfType Utrace.TraceSummary
        $summary.EventsDelivered | Should -Be 7
        $summary.EventsSent | Should -Be 7
        $summary.EventsFiltered | Should -Be 170
        $summary.State | Should -Be 'Completed'
        $summary.ExitCode | Should -Be 0
    }

    It '-MinDuration takes <Value>' -ForEach @(
        @{ Value = '250us'; Nanoseconds = 250000 }
        @{ Value = [timespan]::FromMilliseconds(2); Nanoseconds = 2000000 }
        # Longer than the trace may last (Invoke-Trace waits 60 s): nothing can pass.
        @{ Value = '100s'; Nanoseconds = 100000000000 }
    ) {
        $trace = Invoke-Trace @{ Command = "$bin/slowfast"; MinDuration = $Value }
        @($trace.Events | Where-Object DurationNs -LT $Nanoseconds).Count | Should -Be 0
        # slow and its usleep(3000) last at least 3 ms, main at least 12 ms.
        $expected = if ($Nanoseconds -le 3000000) { 'main=1 slow=4 usleep=4' } else { '' }
        Get-Count ($trace.Events | Where-Object Function -In main, slow, usleep) | Should -Be $expected
        $trace.Summary.EventsSent | Should -Be $trace.Events.Count
        $trace.Summary.EventsSent + $trace.Summary.EventsFiltered | Should -Be 110   # fast 100, slow 4, usleep 4, main, __cxa_finalize
    }

    It '-ThreadId traces only the given threads, filtered in the kernel' {
        $server = Start-ServerFixture (Join-Path $bin 'server')
        try {
            $worker = [int](Get-ChildItem "/proc/$($server.Id)/task" | Where-Object Name -NE "$($server.Id)").Name
            $job = Start-UTrace -ProcessId $server.Id -ThreadId $worker -Function handle_request, background_task -AsJob -Confirm:$false
            Invoke-ServerRequest $server -Count 4
            $summary = Stop-UTrace $job
            $events = Receive-Job $job
            Get-Count $events | Should -Be 'background_task=4'
            $events.ThreadId | Sort-Object -Unique | Should -Be $worker
            $summary.EventsSent | Should -Be 4
        }
        finally {
            $server.Kill()
            Get-Job -Name 'UTrace*' | Remove-Job -Force
        }
    }
}

Describe 'Per-function uprobes (the fallback for kernels before 6.6)' -Skip:$noBpf {
    It 'gives the same exact counts with one uprobe per function and direction' {
        $trace = Invoke-Trace @{ Command = "$bin/fib 10"; Function = 'fib', 'main'; AttachMode = 'PerFunction' }
        Get-Count $trace.Events | Should -Be 'fib=177 main=1'
        $trace.Summary.AttachMode | Should -Be 'PerFunction'
        $trace.Summary.LinkCount | Should -Be 4
    }
}

# Uprobe session programs (Linux 6.13+): one program and one link see a call's entry and return, and a call the entry
# drops gets no return probe. Auto's choice where the kernel has them and the trace drops calls at entry (-ThreadId,
# -MaxDepth); the pair (MultiLink) is what other traces and older kernels get.
Describe 'Session links' -Skip:$noBpf {
    BeforeAll {
        $kernelHasSessions = [Environment]::OSVersion.Version -ge [version]'6.13'
    }

    It 'one session link reports the exact calls, depths and durations of the pair, which Auto takes when nothing drops at entry' {
        if (-not $kernelHasSessions) {
            $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 10" -AttachMode Session }
            $err.FullyQualifiedErrorId | Should -BeLike 'SessionNotSupported*'
            return
        }
        $session = Invoke-Trace @{ Command = "$bin/fib 10"; Function = 'fib', 'main'; AttachMode = 'Session' }
        $auto = Invoke-Trace @{ Command = "$bin/fib 10"; Function = 'fib', 'main' }
        $session.Summary.AttachMode | Should -Be 'Session'
        $session.Summary.LinkCount | Should -Be 1
        $auto.Summary.AttachMode | Should -Be 'MultiLink'
        $auto.Summary.LinkCount | Should -Be 2
        foreach ($trace in $session, $auto) {
            Get-Count $trace.Events | Should -Be 'fib=177 main=1'
            # main, then fib(10)'s call tree level by level (fib(n) calls fib(n - 1) and fib(n - 2) for n >= 2).
            ($trace.Events | Group-Object Depth | Sort-Object { [int]$_.Name } | ForEach-Object Count) -join ',' |
                Should -Be '1,1,2,4,8,16,32,52,44,16,2'
            @($trace.Events | Where-Object { -not $_.HasDuration -or $_.SelfNs -gt $_.DurationNs }).Count | Should -Be 0
            $trace.Summary.ReturnsUnmatched | Should -Be 0
        }
    }

    It 'a C++ program throwing on 4 threads, and one that longjmps, through session-probed frames compute what they do untraced' {
        $attach = if ($kernelHasSessions) { 'Session' } else { 'MultiLink' }
        $caught = Join-Path $TestDrive 'caught.txt'
        $throws = Invoke-Trace @{ Command = "$bin/throw_threads"; ArgumentList = $caught; AttachMode = $attach }
        Get-Content $caught | Should -Be 'caught 4000'
        $throws.Summary.ExitCode | Should -Be 0
        $throws.Summary.AttachMode | Should -Be $attach
        Get-Count ($throws.Events | Where-Object Function -In 'attempt(int)', 'worker(int*)', 'main') | Should -Be 'attempt(int)=4000 main=1 worker(int*)=4'
        $throws.Summary.StackPatches | Should -Be 8000   # restored at each throw, re-armed at each catch
        $jumps = Invoke-Trace @{ Command = "$bin/longjmp"; ArgumentList = '3'; Function = 'fault_a', 'main'; AttachMode = $attach }
        $jumps.Summary.ExitCode | Should -Be 0   # 1 unless it jumped 3 times, as untraced
        Get-Count $jumps.Events | Should -Be 'fault_a=3 main=1'
    }

    It 'a longjmp out of 64 pending return probes leaves the thread its return probes (a session declines the 64th), built by <_>' -ForEach 'gcc-O2-pie', 'clang-O2-nopie' {
        $program = Join-Path $FixtureBin $_ 'deepjump'
        & $program | Should -Be 'jumped 2 sum 15'
        $trace = Invoke-Trace @{ Command = $program; Function = 'dive', 'after' }
        $trace.Summary.ExitCode | Should -Be 0
        # Auto takes a session (Linux 6.13) for a program that imports longjmp.
        $trace.Summary.AttachMode | Should -Be 'Session'
        # Two rounds of dive(70)..dive(0): 71 calls each, the 8 at depth 63 and deeper reported at their entry,
        # the other 63 left by the longjmp (unwound, not reported); then after's 5 calls, each timed.
        Get-Count ($trace.Events | Where-Object HasDuration) | Should -Be 'after=5'
        Get-Count ($trace.Events | Where-Object { -not $_.HasDuration }) | Should -Be 'dive=16'
        $trace.Summary.CallsUnwound | Should -Be 126
    }

    It '-MaxDepth: calls past it get no return probe, and count as the pair counts them' {
        $trace = Invoke-Trace @{ Command = "$bin/fib 10"; Function = 'fib'; MaxDepth = 2 }
        $pair = Invoke-Trace @{ Command = "$bin/fib 10"; Function = 'fib'; MaxDepth = 2; AttachMode = 'MultiLink' }
        $trace.Summary.AttachMode | Should -Be $(if ($kernelHasSessions) { 'Session' } else { 'MultiLink' })
        foreach ($t in $trace, $pair) {
            ($t.Events | Group-Object Depth | Sort-Object Name | ForEach-Object Count) -join ',' | Should -Be '1,2,4'
            $t.Summary.EventsFiltered | Should -Be 170   # 177 calls of fib, 7 reported
            # fib(8) and fib(7) at depth 2 call fib in turn, filtered: that time stays their own.
            @($t.Events | Where-Object { $_.Depth -eq 2 -and $_.SelfNs -ne $_.DurationNs }).Count | Should -Be 0
        }
    }

    It '-ThreadId: a C++ thread left out is not stopped at its throws (no return probe of its calls to patch)' {
        # Thread 1 is init's: no thread of throw_threads is traced.
        $trace = Invoke-Trace @{ Command = "$bin/throw_threads"; ThreadId = 1 }
        $trace.Summary.ExitCode | Should -Be 0
        $trace.Summary.EventsSent | Should -Be 0
        $trace.Summary.StackPatches | Should -Be $(if ($kernelHasSessions) { 0 } else { 8000 })
        $pair = Invoke-Trace @{ Command = "$bin/throw_threads"; ThreadId = 1; AttachMode = 'MultiLink' }
        $pair.Summary.ExitCode | Should -Be 0
        $pair.Summary.StackPatches | Should -Be 8000   # 4 threads x 1,000 throws, restored at the throw and re-armed at the catch
    }
}

# Tracing a real program nobody here wrote: the distribution's /usr/bin/python3 (on Debian 12 python3.11, stripped and
# non-PIE, with 1,472 exported functions in .dynsym besides _start).
Describe 'Tracing at scale' -Skip:$noBpf {
    BeforeAll {
        $python = readlink -f /usr/bin/python3
    }

    It 'traces all exported functions of python3 with two links and a correct summary' {
        $script = Join-Path $TestDrive 's.py'
        Set-Content $script 'import json', 'print(len(json.dumps([{"n": i} for i in range(100)])))'
        $exported = @(Get-UTraceFunction $python | Where-Object Kind -EQ Function)
        $trace = Invoke-Trace @{ Command = "$python $script"; Function = '*'; ExcludeLibrary = '*' }
        $trace.Summary.FunctionCount | Should -Be $exported.Count
        $trace.Summary.LinkCount | Should -Be 2
        $trace.Summary.ExitCode | Should -Be 0
        Get-Count ($trace.Events | Where-Object Function -In Py_BytesMain, Py_RunMain, Py_InitializeFromConfig, Py_FinalizeEx) |
            Should -Be 'Py_BytesMain=1 Py_FinalizeEx=1 Py_InitializeFromConfig=1 Py_RunMain=1'
        $trace.Summary.EventsDelivered | Should -Be $trace.Events.Count
        # The only calls missing are those nested past the kernel's 64 pending return probes.
        $trace.Summary.EventsDropped | Should -Be $trace.Summary.DroppedTooDeep
    }
}

# Listing and completing only read ELF files: no BPF needed.
Describe 'Listing functions' {
    BeforeAll {
        $python = readlink -f /usr/bin/python3
        $startup = @(Get-StartupFunctionName $TestDrive)
    }

    It 'Get-UTraceFunction previews the same selection as Start-UTrace' {
        $functions = Get-UTraceFunction -Path "$bin/libcalls" -Library libc* -ExcludeFunction free, main
        ($functions | ForEach-Object { "$($_.Kind):$($_.Name)" } | Sort-Object) -join ' ' |
            Should -Be 'Function:make LibraryCall:__cxa_finalize LibraryCall:malloc LibraryCall:puts LibraryCall:usleep'
    }

    It 'Get-UTraceFunction lists one function per address readelf finds in python3, less the start-up code' {
        # .symtab if python3 has one, else .dynsym; defined functions with a size.
        $table = if ((readelf -SW $python) -match '\s\.symtab\s') { '.symtab' } else { '.dynsym' }
        $current = $null
        $defined = @(readelf -sW $python | ForEach-Object {
            if ($_ -match "^Symbol table '(.+)' contains") { $current = $Matches[1] }
            elseif ($current -eq $table -and $_ -match '^\s*\d+:\s+([0-9a-f]+)\s+(\d+)\s+FUNC\s+\S+\s+\S+\s+\d+\s+(\S+)') {
                if ($Matches[2] -ne '0') { [pscustomobject]@{ Address = $Matches[1]; Name = $Matches[3] -replace '@.*' } }
            }
        })
        $addresses = @($defined | Group-Object Address | Where-Object { -not ($_.Group.Name | Where-Object { $_ -in $startup }) })
        $functions = @(Get-UTraceFunction $python | Where-Object Kind -EQ Function)
        $functions.RawName | Should -Contain 'Py_BytesMain'
        $functions.Count | Should -Be $addresses.Count
        @($functions.RawName | Where-Object { $_ -notin $defined.Name }).Count | Should -Be 0
        @($functions.RawName | Where-Object { $_ -in $startup }).Count | Should -Be 0
    }

    It 'completes -Function from the symbols of the -Command target' {
        $line = "Start-UTrace -Command $bin/libcalls -Function ma"
        $result = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        ($result.CompletionMatches.CompletionText | Sort-Object) -join ',' | Should -Be 'main,make,malloc'
    }

    It 'completes -Library from the libraries of the target' {
        $line = "Get-UTraceFunction -Path $bin/throws -Library libstd"
        $result = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $result.CompletionMatches.CompletionText | Should -Be 'libstdc++.so.6'
    }
}
