# Programs that run others, traced with -Follow: CPython running part of its own regression suite
# (alone and with -j2 workers), and a bash script running gawk, sqlite3 and git. Traced, each writes,
# builds and exits as untraced. Each probes a few functions only, chosen for counts the programs make
# knowable: a probe hit costs 5-20 us here, and the interpreters make millions of calls.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ProgramRuns.ps1')

    # Debian's python3.11 (libpython3.11-testsuite has its tests), not one a version manager puts first in PATH.
    $pythonTests = @('-m', 'test', 'test_bool', 'test_string', 'test_with', 'test_scope', 'test_unary', 'test_augassign',
        'test_contains', 'test_generators')
    $python = @{ Program = '/usr/bin/python3.11'; CallLimits = @{ Py_RunMain = 20 } }
    $tools = Join-Path $PSScriptRoot '../fixtures/shell/tools.sh'
    $workDirectories = @{}
    foreach ($name in 'untraced', 'traced') {
        $workDirectories[$name] = (New-Item -ItemType Directory (Join-Path $TestDrive "tools-$name")).FullName
    }
    $shell = @{ Program = $tools; CallLimits = @{ make_child = 100 } }
    $runs = @(
        $python + @{ Key = 'python/untraced'; Arguments = $pythonTests; Trace = $null }
        # _PyErr_SetObject runs at every exception raised, thousands of times: return probes busy in every test.
        $python + @{ Key = 'python/traced'; Arguments = $pythonTests; Trace = @{ Function = 'Py_RunMain', 'Py_FinalizeEx', '_PyErr_SetObject' } }
        $python + @{ Key = 'python/untraced -j2'; Arguments = @($pythonTests[0..1]) + '-j2' + $pythonTests[2..9]; Trace = $null }
        $python + @{ Key = 'python/-Follow -j2'; Arguments = @($pythonTests[0..1]) + '-j2' + $pythonTests[2..9]
            Trace = @{ Follow = $true; Function = 'Py_RunMain', 'Py_FinalizeEx', '_PyErr_SetObject' } }
        $shell + @{ Key = 'tools/untraced'; Arguments = @($workDirectories.untraced); Trace = $null }
        # bash's make_child forks; sqlite3's statements; zlib's deflateInit_ once per object git writes.
        $shell + @{ Key = 'tools/traced'; Arguments = @($workDirectories.traced)
            Trace = @{ Follow = $true; Function = 'make_child', 'sqlite3_prepare_v2', 'sqlite3_step', 'deflateInit_' } }
    )
    $script:Results = Invoke-ProgramRunBatch -Run $runs -WorkDirectory (Join-Path $TestDrive 'runs') -TimeoutSeconds 120

    # What of the regression suite's report is the same each run: not the load, durations nor the order of -j2's workers.
    function Format-TestReport([hashtable] $Result) {
        $steady = $Result.Clone()
        $steady.Stdout = (($Result.Stdout -split "`n") | Where-Object { $_ -notmatch 'load avg|^Total duration' }) -join "`n"
        Format-ProgramRun $steady
    }
}

Describe 'CPython 3.11 running part of its regression suite' -Skip:$noBpf {
    It 'passes untraced (the oracle)' {
        Format-TestReport $Results['python/untraced'] | Should -BeExactly ("exit 0; stdout '\n== Tests result: SUCCESS ==\n\n" +
            "All 8 tests OK.\n\nTests result: SUCCESS\n'; stderr ''")
        Format-TestReport $Results['python/untraced -j2'] | Should -BeExactly (Format-TestReport $Results['python/untraced'])
    }

    It 'passes as untraced, in one process, and with -j2 workers under -Follow (<_>)' -ForEach 'python/traced', 'python/-Follow -j2' {
        $run = $Results[$_]
        Format-TestReport $run | Should -BeExactly (Format-TestReport $Results['python/untraced'])
        $run.Warnings | Should -Be @()
        $run.CallsUnwound | Should -Be 0
    }

    It 'counts one interpreter alone, and the first one and its 8 workers (one a test file) with -Follow' {
        $counts = @{ Py_RunMain = 1; Py_FinalizeEx = 1 }
        Format-CallCount $counts $Results['python/traced'].Counts | Should -Be (Format-CallCount $counts)
        $counts = @{ Py_RunMain = 9; Py_FinalizeEx = 9 }
        Format-CallCount $counts $Results['python/-Follow -j2'].Counts | Should -Be (Format-CallCount $counts)
    }
}

Describe 'bash running gawk, sqlite3 and git, under -Follow' -Skip:$noBpf {
    It 'writes and exits as expected untraced (the oracle)' {
        $run = $Results['tools/untraced']
        # The commits' names are those of their fixed contents, authors and dates.
        Format-ProgramRun $run | Should -BeExactly ("exit 7; stdout 'sum 1275 sevens 7 14 21 28 35 42 49\n1:abc\n2:bcd\n3:cde\n203|2686706\n" +
            "Auto-merging file.txt\nCONFLICT (content): Merge conflict in file.txt\nAutomatic merge failed; fix conflicts and then commit the result.\n" +
            "merge exited 1\none\n<<<<<<< HEAD\ntwo on main\n=======\ntwo on side\n>>>>>>> side\nthree\n" +
            "dangling tree be310b336d8ff63a88394c1efd9f8202e12e54fd\nfsck exited 0\n2b9b4132cbf7735fb6b6ca8e6374cbbc51cab3d5 main\n" +
            "140e1a5f77c12c4c6ad45f6db1f0cbd8468efa61 side\n5901c2b56f46096353ac99dbcb32bcf9dd72e5e5 first\n'; stderr ''")
    }

    It 'writes, builds the same database byte for byte, and exits as untraced' {
        Format-ProgramRun $Results['tools/traced'] | Should -BeExactly (Format-ProgramRun $Results['tools/untraced'])
        $Results['tools/traced'].Warnings | Should -Be @()
        $database = [IO.File]::ReadAllBytes((Join-Path $workDirectories.traced 'db.sqlite'))
        # Three pages: the schema (with the header), the table's 203 rows and their index.
        $database.Length | Should -Be (3 * 4096)
        [Convert]::ToHexString($database) | Should -BeExactly ([Convert]::ToHexString([IO.File]::ReadAllBytes((Join-Path $workDirectories.untraced 'db.sqlite'))))
    }

    It 'counts what each program was asked to do' {
        # bash forks 15 times: seq and gawk of the pipeline, gawk, sqlite3, 10 git commands and cat.
        # sqlite3 prepares the 5 statements, steps each once and the SELECT's row once more.
        # git deflates 3 objects (blob, tree, commit) for each of 3 commits, and the merge's conflicted blob and its (dangling) tree.
        $counts = @{ make_child = 15; sqlite3_prepare_v2 = 5; sqlite3_step = 6; deflateInit_ = 11 }
        Format-CallCount $counts $Results['tools/traced'].Counts | Should -Be (Format-CallCount $counts)
    }
}

Describe 'A -Follow trace of many short processes' -Skip:$noBpf {
    It 'traces each of 100 processes a loop runs, and its loop, with exact counts' {
        $fib = Join-Path $FixtureBin 'gcc-O2-pie/fib'
        $loop = "for ((i = 0; i < 100; i++)); do '$fib' 5 > /dev/null; done"
        $events = Start-UTrace -Command /bin/bash -ArgumentList '-c', $loop -Follow -Function 'fib', 'make_child' -SummaryVariable summary
        $summary.ExitCode | Should -Be 0
        $summary.EventsDropped | Should -Be 0
        # bash forks once per run; fib 5 makes 15 calls of fib, each run in a process of its own.
        $perProcess = $events | Group-Object ProcessId | ForEach-Object { ($_.Group | Group-Object Function | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' ' }
        $perProcess | Group-Object | Sort-Object Name | ForEach-Object { "$($_.Count)x $($_.Name)" } | Should -Be @('100x fib=15', '1x make_child=100')
    }
}
