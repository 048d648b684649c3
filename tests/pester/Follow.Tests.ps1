# -Follow: every process the traced program forks, and every program they exec, is traced with
# the same selection, each call under its own process id and program, and exactly: a child is
# held stopped until its probes are in place. Real programs, every compiler variant.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $variants = @(Get-FixtureVariant)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ProgramRuns.ps1')

    # Runs a trace as a job to its end; the events and the job's first process id.
    function Invoke-FollowTrace([hashtable] $Parameters) {
        $job = Start-UTrace @Parameters -AsJob
        $job | Wait-Job -Timeout 60 | Out-Null
        $job.State | Should -Be 'Completed' -Because 'the trace ends once every followed process has exited'
        $events = @(Receive-Job $job)
        $rootId = $job.ProcessId
        Remove-Job $job
        [pscustomobject]@{ Events = $events; RootId = $rootId }
    }

    # One line per process: "program: function=calls ...", sorted; the first process's line starts with "first ".
    function Format-PerProcess($Trace) {
        $lines = foreach ($process in $Trace.Events | Group-Object ProcessId) {
            $program = ($process.Group.Program | Sort-Object -Unique) -join ','
            $counts = ($process.Group | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' '
            $first = if ([int]$process.Name -eq $Trace.RootId) { 'first ' } else { '' }
            "$first${program}: $counts"
        }
        @($lines | Sort-Object)
    }

    # One line per process and program: "first|child program: function=calls ...", sorted.
    function Format-PerProgram($Trace) {
        $lines = foreach ($run in $Trace.Events | Group-Object ProcessId, Program) {
            $counts = ($run.Group | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' '
            $who = if ($run.Group[0].ProcessId -eq $Trace.RootId) { 'first' } else { 'child' }
            "$who $($run.Group[0].Program): $counts"
        }
        @($lines | Sort-Object)
    }

    # Copies of the relay fixture under the names "second" and "third", so that each step of a chain is a program of its own.
    function Copy-Relay([string] $Directory, [string] $To) {
        $null = New-Item -ItemType Directory -Force $To
        foreach ($name in 'second', 'third') { Copy-Item (Join-Path $Directory 'relay') (Join-Path $To $name) }
        $To
    }

    # A script that runs two fixture programs in sequence and one in the background; its output
    # does not depend on which runs first.
    function New-FollowScript {
        [CmdletBinding(SupportsShouldProcess)]
        param([string] $Directory, [string] $Path)
        if (-not $PSCmdlet.ShouldProcess($Path, 'Write a script')) { return }
        Set-Content $Path -NoNewline -Value (@(
                '#!/bin/sh'
                "$Directory/chain &"
                "$Directory/fib 5"
                "$Directory/fib 10"
                'wait $!'
                'echo "chain exited $?"'
            ) -join "`n")
        chmod +x $Path
    }
}

Describe '-Follow traces children and the programs they exec' -Skip:$noBpf {
    It 'gives each program of a #!/bin/sh script its exact counts under its own pid (<Variant>)' -ForEach $variants {
        $script = Join-Path $TestDrive "follow-$Variant.sh"
        New-FollowScript $Dir $script
        $trace = Invoke-FollowTrace @{ Command = $script; Follow = $true; Function = 'fib', 'a', 'b', 'c' }
        Format-PerProcess $trace | Should -Be @('chain: a=1 b=1 c=1', 'fib: fib=15', 'fib: fib=177')
        @($trace.Events.ProcessId | Sort-Object -Unique).Count | Should -Be 3
    }

    It 'gives each of 4 forked workers its exact counts (<Variant>)' -ForEach $variants {
        $trace = Invoke-FollowTrace @{ Command = "$Dir/workers"; Follow = $true; Function = 'main', 'worker', 'work' }
        Format-PerProcess $trace | Should -Be @(
            'first workers: main=1 work=3'
            'workers: work=100 worker=1'
            'workers: work=25 worker=1'
            'workers: work=50 worker=1'
            'workers: work=75 worker=1'
        )
    }

    It 'labels each library call with the program that made it, through exec in a child and in the first process (<Variant>)' -ForEach $variants {
        $copies = Copy-Relay $Dir (Join-Path $TestDrive $Variant)
        $nested = @{ Follow = $true; NestLibrary = 'libc.so*'; Function = 'div' }
        $trace = Invoke-FollowTrace ($nested + @{ Command = "$Dir/relay 1 fork $copies/second 2 exec $copies/third 3" })
        Format-PerProgram $trace | Should -Be @('child second: div=2', 'child third: div=3', 'first relay: div=1')
        @($trace.Events.ProcessId | Sort-Object -Unique).Count | Should -Be 2
        $trace.Events.Module | Sort-Object -Unique | Should -Be 'libc.so.6'
        $trace = Invoke-FollowTrace ($nested + @{ Command = "$Dir/relay 1 exec $copies/second 2 fork $copies/third 3" })
        Format-PerProgram $trace | Should -Be @('child third: div=3', 'first relay: div=1', 'first second: div=2')
    }

    It 'traces a selection that only the programs it runs match; warns once at the end when nothing ever matched' {
        $bin = Join-Path $FixtureBin 'gcc-O0-nopie'
        $job = Start-UTrace -Command "/bin/sh -c '$bin/fib 10'" -Follow -Function fib -AsJob
        $job | Wait-Job -Timeout 60 | Out-Null
        @(Receive-Job $job -WarningVariable warnings | Where-Object Function -EQ 'fib').Count | Should -Be 177
        $warnings.Count | Should -Be 0
        Remove-Job $job
        $job = Start-UTrace -Command "/bin/sh -c 'true; $bin/fib 1 >/dev/null'" -Follow -Function 'fib2' -AsJob
        $job | Wait-Job -Timeout 60 | Out-Null
        $job.State | Should -Be 'Completed'
        @(Receive-Job $job -WarningVariable warnings -WarningAction SilentlyContinue).Count | Should -Be 0
        @($warnings.Message) | Should -Be @("Nothing was traced: no function of '/bin/sh -c true; $bin/fib 1 >/dev/null' or of a program it ran matches the selection. List what can be traced with Get-UTraceFunction, then adjust -Function, -Library or -NestLibrary.")
        Remove-Job $job
        # Without -Follow nothing else can match: an error before the program runs.
        $err = Get-ErrorRecord { Start-UTrace -Command "/bin/sh -c '$bin/fib 10'" -Function fib }
        $err.FullyQualifiedErrorId | Should -Be 'NoFunctionMatches,Utrace.PowerShell.StartUTraceCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'tells each warning once: a function the kernel refuses, in every process of a chain that runs the program' {
        $bin = Join-Path $FixtureBin 'gcc-O2-pie'
        $job = Start-UTrace -Command "$bin/relay 1 fork $bin/relay 2 exec $bin/relay 3" -Follow -NestLibrary 'libc.so*' -Function div, pthread_spin_lock -AsJob
        $job | Wait-Job -Timeout 60 | Out-Null
        @(Receive-Job $job -WarningVariable warnings -WarningAction SilentlyContinue).Count | Should -Be 6
        @($warnings.Message) | Should -Be @('1 function(s) cannot be probed and are not traced: pthread_spin_lock (its first instruction has a lock prefix, which the kernel cannot probe).')
        Remove-Job $job
    }

    It 'ends with exact counts when a child execs a missing file, a parent exits before its child, a grandchild is orphaned' {
        $bin = Join-Path $FixtureBin 'clang-O0-pie'
        $events = Start-UTrace -Command "$bin/relay 2 fork /nonexistent" -Follow -Function div -SummaryVariable summary
        $LASTEXITCODE | Should -Be 127
        $summary.State | Should -Be 'Completed'
        @($events).Count | Should -Be 2
        $events.ProcessId | Sort-Object -Unique | Should -Be $summary.ProcessId
        foreach ($command in "sh -c '($bin/fib 5; sleep 0.3; $bin/fib 6) & exit 0'", "sh -c '( (sleep 0.3; $bin/fib 6) & ); $bin/fib 5'") {
            $trace = Invoke-FollowTrace @{ Command = $command; Follow = $true; Function = 'fib' }
            Format-PerProcess $trace | Should -Be @('fib: fib=15', 'fib: fib=25')
        }
    }

    It 'follows sh -c and vfork+exec children' {
        $bin = Join-Path $FixtureBin 'clang-O2-pie'
        $trace = Invoke-FollowTrace @{ Command = "sh -c '$bin/fib 3; $bin/fib 4'"; Follow = $true; Function = 'fib' }
        Format-PerProcess $trace | Should -Be @('fib: fib=5', 'fib: fib=9')
        $trace = Invoke-FollowTrace @{ Command = "$bin/vforkexec"; Follow = $true; Function = 'main', 'report' }
        Format-PerProcess $trace | Should -Be @('first vforkexec: main=1 report=3', 'vforkexec: main=1', 'vforkexec: main=1', 'vforkexec: main=1')
    }

    It 'ends when python3.11 has run its children through subprocess and os.posix_spawn, with their exact counts' {
        $bin = Join-Path $FixtureBin 'gcc-O2-nopie'
        $script = Join-Path $TestDrive 'spawns.py'
        Set-Content $script -Value @(
            'import os, subprocess, sys'
            'fib = sys.argv[1]'
            'first = subprocess.run([fib, "5"]).returncode'
            'second = subprocess.run([fib, "6"], capture_output=True, text=True)'
            'print(second.stdout, end="")'
            'pid = os.posix_spawn(fib, [fib, "7"], os.environ)'
            'print("exits", first, second.returncode, os.waitpid(pid, 0)[1], flush=True)'
        )
        $trace = Invoke-FollowTrace @{ Command = "/usr/bin/python3 $script $bin/fib"; Follow = $true; Function = 'fib' }
        Format-PerProcess $trace | Should -Be @('fib: fib=15', 'fib: fib=25', 'fib: fib=41')
    }

    It 'follows the children of an attached process, and gives the launched program''s exit code' {
        $bin = Join-Path $FixtureBin 'gcc-O0-pie'
        $release = Join-Path $TestDrive 'go'
        $script = Join-Path $TestDrive 'waits.sh'
        Set-Content $script "#!/bin/sh`nwhile [ ! -e $release ]; do sleep 0.01; done`n$bin/fib 5`n$bin/fib 6"
        chmod +x $script
        $shell = Start-Process $script -RedirectStandardOutput (Join-Path $TestDrive 'out') -PassThru
        $job = Start-UTrace -ProcessId $shell.Id -Follow -Function fib -AsJob -Confirm:$false
        Set-Content $release ''
        $job | Wait-Job -Timeout 60 | Out-Null
        $events = @(Receive-Job $job)
        Remove-Job $job
        Format-PerProcess ([pscustomobject]@{ Events = $events; RootId = $shell.Id }) | Should -Be @('fib: fib=15', 'fib: fib=25')
        Start-UTrace -Command "sh -c '$bin/fib 3; exit 4'" -Follow -Function fib -WarningAction SilentlyContinue | Out-Null
        $LASTEXITCODE | Should -Be 4
    }

    It '-Summary sums the calls of every follower in the kernel' {
        $bin = Join-Path $FixtureBin 'clang-O0-pie'
        $summaries = Start-UTrace -Command "sh -c '$bin/fib 5; $bin/workers'" -Follow -Summary -Function fib, work, worker
        ($summaries | Sort-Object Function | ForEach-Object { "$($_.Module): $($_.Function)=$($_.Calls)" }) -join ', ' |
            Should -Be 'fib: fib=15, workers: work=253, workers: worker=4'
    }

    It 'without -Follow traces only the first process, as before' {
        $bin = Join-Path $FixtureBin 'gcc-O2-pie'
        $trace = Invoke-FollowTrace @{ Command = "$bin/workers"; Function = 'main', 'worker', 'work' }
        Format-PerProcess $trace | Should -Be @('first workers: main=1 work=3')
    }

    It 'a script''s programs print and return exactly what they do untraced, C++ exceptions, coroutines and forks too' {
        $runs = foreach ($variant in @(Get-FixtureVariant)[0, 7]) {
            $script = Join-Path $TestDrive "same-$($variant.Variant).sh"
            New-FollowScript $variant.Dir $script
            # Programs that return probes could harm: each child's exceptions and stack switches.
            $harmful = Join-Path $TestDrive "harmful-$($variant.Variant).sh"
            Set-Content $harmful -NoNewline -Value ((@('#!/bin/sh') + @('throws', 'throw_threads', 'coro', 'forks' | ForEach-Object {
                            "$($variant.Dir)/$_"
                            "echo `"$_ exited `$?`""
                        })) -join "`n")
            chmod +x $harmful
            foreach ($mode in 'untraced', 'traced') {
                foreach ($program in @{ Label = 'script'; Path = $script }, @{ Label = 'workers'; Path = Join-Path $variant.Dir 'workers' },
                    @{ Label = 'harmful'; Path = $harmful }) {
                    @{
                        Key = "$($variant.Variant)/$($program.Label)/$mode"
                        Program = $program.Path
                        Arguments = @()
                        Trace = if ($mode -eq 'traced') { @{ Follow = $true } } else { $null }
                        CallLimits = @{}
                    }
                }
            }
        }
        $results = Invoke-ProgramRunBatch -Run $runs -WorkDirectory (Join-Path $TestDrive 'runs')
        foreach ($variant in @(Get-FixtureVariant)[0, 7]) {
            $key = $variant.Variant
            Format-ProgramRun $results["$key/script/untraced"] | Should -Be "exit 0; stdout 'fib(5) = 5\nfib(10) = 55\nchain exited 3\n'; stderr ''"
            Format-ProgramRun $results["$key/script/traced"] | Should -Be (Format-ProgramRun $results["$key/script/untraced"])
            Format-ProgramRun $results["$key/workers/untraced"] | Should -Be "exit 0; stdout 'workers failed: 0\n'; stderr ''"
            Format-ProgramRun $results["$key/workers/traced"] | Should -Be (Format-ProgramRun $results["$key/workers/untraced"])
            $results["$key/harmful/untraced"].Stdout | Should -Match '(?s)throws exited 0.*throw_threads exited 0.*coro exited 0.*forks exited 0'
            Format-ProgramRun $results["$key/harmful/traced"] | Should -Be (Format-ProgramRun $results["$key/harmful/untraced"])
        }
    }

    It 'leaves a forked child inside traced calls when the trace stops unharmed: they return, or throw, after the probes are gone (<Variant>)' -ForEach $variants {
        foreach ($ending in @{ Argument = 'return'; Output = 'held 42' }, @{ Argument = 'throw'; Output = 'caught 40' }) {
            $work = (New-Item -ItemType Directory (Join-Path $TestDrive "hold-$Variant-$($ending.Argument)")).FullName
            $process = Start-Process "$Dir/forkhold" -ArgumentList $work, $ending.Argument -RedirectStandardOutput (Join-Path $work 'out') -PassThru
            $job = Start-UTrace -ProcessId $process.Id -Follow -Function 'outer()', 'hold()' -AsJob -Confirm:$false
            Set-Content (Join-Path $work 'start') ''
            $held = [Diagnostics.Stopwatch]::StartNew()
            while (-not (Test-Path (Join-Path $work 'held')) -and $held.Elapsed.TotalSeconds -lt 30) { Start-Sleep -Milliseconds 10 }
            (Stop-UTrace $job).State | Should -Be 'Stopped'
            Remove-Job $job
            Set-Content (Join-Path $work 'go') ''
            $process.WaitForExit(30000) | Should -BeTrue
            $process.WaitForExit()   # and for its output, which PowerShell copies into the file as it comes
            $process.ExitCode | Should -Be 0
            Get-Content (Join-Path $work 'out') | Should -Be @($ending.Output, 'child exited 5')
        }
    }

    It 'refuses -AttachMode PerFunction, whose probes cannot tell a child from another process' {
        $bin = Join-Path $FixtureBin 'gcc-O2-pie'
        $err = $null
        Start-UTrace -Command "$bin/workers" -Follow -AttachMode PerFunction -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        $err[0].FullyQualifiedErrorId | Should -BeLike 'FollowNeedsMultiLinks*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}
