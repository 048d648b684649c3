# Library calls of code built with -fno-plt, which calls through the GOT without PLT stubs: Utrace
# probes the program's call sites, and a trace shows the same library calls, with the same counts
# and modules, as the same program built with PLT stubs (tests/fixtures/bin/noplt/<cc>-<opt>).
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $builds = foreach ($cc in 'gcc', 'clang') {
        foreach ($opt in 'O0', 'O2') {
            # At -O2 both compilers turn atoi into strtol.
            @{ Build = "$cc-$opt"; Dir = Join-Path $FixtureBin "noplt/$cc-$opt"; Atoi = $opt -eq 'O0' ? 'atoi' : 'strtol' }
        }
    }
    $modes = 'Auto', 'Uretprobe', 'RetInstruction', 'EntryOnly'
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    # "name module count" of each library call of a trace, sorted.
    function Get-LibraryCallCount($Events) {
        @($Events | Where-Object Module -EQ 'libc.so.6' | Group-Object Function, Module -NoElement | Sort-Object Name |
                ForEach-Object { '{0} {1}' -f ($_.Name -replace ',', ''), $_.Count })
    }

    # "name timed|entry" of each library call of a trace, once per kind, sorted.
    function Get-LibraryCallKind($Events) {
        @($Events | Where-Object Module -EQ 'libc.so.6' |
                ForEach-Object { '{0} {1}' -f $_.Function, ($_.HasDuration ? 'timed' : 'entry') } | Sort-Object -Unique)
    }
}

Describe 'The demo built with -fno-plt by <Build>' -ForEach $builds -Skip:$noBpf {
    It 'lists the same library calls as the build with PLT stubs' {
        $withPlt = Get-UTraceFunction -Path "$Dir/demo-plt" | Where-Object Kind -EQ LibraryCall
        $noPlt = Get-UTraceFunction -Path "$Dir/demo" | Where-Object Kind -EQ LibraryCall
        @($noPlt | ForEach-Object { "$($_.Name) $($_.Module)" } | Sort-Object) |
            Should -Be @($withPlt | ForEach-Object { "$($_.Name) $($_.Module)" } | Sort-Object)
        @($noPlt.Name | Sort-Object) | Should -Be (@('__cxa_finalize', $Atoi, 'free', 'malloc', 'printf', 'rand', 'srand', 'usleep') | Sort-Object)
        # The stub of __cxa_finalize comes with the C runtime's start files, built with a PLT.
        @($noPlt | Where-Object Size -EQ 0 | Where-Object EntryProbe -EQ SingleStepped).Count | Should -Be 7
    }

    It 'traces the same library calls as the build with PLT stubs, with -ReturnMode <_>' -ForEach $modes {
        $withPlt = Start-UTrace -Command "$Dir/demo-plt 2" -ReturnMode $_ 6>$null
        $noPlt = Start-UTrace -Command "$Dir/demo 2" -ReturnMode $_ 6>$null
        $LASTEXITCODE | Should -Be 0
        Get-LibraryCallCount $noPlt | Should -Be (Get-LibraryCallCount $withPlt)
        Get-LibraryCallCount $noPlt | Should -Be @(
            '__cxa_finalize libc.so.6 1', "$Atoi libc.so.6 1", 'free libc.so.6 1', 'malloc libc.so.6 1',
            'printf libc.so.6 2', 'rand libc.so.6 128', 'srand libc.so.6 1', 'usleep libc.so.6 2' | Sort-Object)
        # The demo's own functions are untouched.
        @($noPlt | Where-Object Module -NE 'libc.so.6' | Group-Object Function -NoElement | ForEach-Object { "$($_.Name) $($_.Count)" } | Sort-Object) |
            Should -Be @($withPlt | Where-Object Module -NE 'libc.so.6' | Group-Object Function -NoElement | ForEach-Object { "$($_.Name) $($_.Count)" } | Sort-Object)
    }

    It 'selects a library call by -Function and by -Library' {
        $rand = @(Start-UTrace -Command "$Dir/demo 1" -Function rand 6>$null)
        $rand.Count | Should -Be 64
        @($rand.Module | Sort-Object -Unique) | Should -Be 'libc.so.6'
        $libc = Start-UTrace -Command "$Dir/demo 1" -Library 'libc*' -ExcludeFunction rand 6>$null
        Get-LibraryCallCount $libc | Should -Be @(
            '__cxa_finalize libc.so.6 1', "$Atoi libc.so.6 1", 'free libc.so.6 1', 'malloc libc.so.6 1',
            'printf libc.so.6 1', 'srand libc.so.6 1', 'usleep libc.so.6 1' | Sort-Object)
    }
}

Describe 'gotcalls built with -fno-plt by <Build>' -ForEach $builds -Skip:$noBpf {
    BeforeAll {
        # A tail call (-O2) and exit, which ends main, have no return to probe.
        $puts = $Build -like '*-O2' ? 'puts entry' : 'puts timed'
        # fwrite is the error path's (gcc -O2 puts it in check.cold).
        $timedAtCallSites = @('__cxa_finalize timed', 'exit entry', 'fflush timed', 'fwrite timed', 'getpid timed', 'getppid timed', $puts, 'qsort timed', 'rand timed') | Sort-Object
    }

    It 'traces each call once with -ReturnMode <_>, as the build with PLT stubs does' -ForEach $modes {
        $withPlt = Start-UTrace -Command "$Dir/gotcalls-plt" -ReturnMode $_ 6>$null
        $noPlt = Start-UTrace -Command "$Dir/gotcalls" -ReturnMode $_ 6>$null
        $LASTEXITCODE | Should -Be 0
        $expected = @('__cxa_finalize libc.so.6 1', 'exit libc.so.6 1', 'fflush libc.so.6 1', 'fwrite libc.so.6 1', 'getpid libc.so.6 1', 'getppid libc.so.6 1',
            'puts libc.so.6 1', 'qsort libc.so.6 1', 'rand libc.so.6 10') | Sort-Object
        Get-LibraryCallCount $noPlt | Should -Be $expected
        # Under uretprobes the PLT build never reports exit: its call never returns. A call site that ends its function is reported at entry.
        $uretprobes = $_ -in 'Auto', 'Uretprobe'
        Get-LibraryCallCount $withPlt | Should -Be ($uretprobes ? @($expected | Where-Object { $_ -notlike 'exit *' }) : $expected)
        @($noPlt | Where-Object Function -EQ compare).Count | Should -Be @($withPlt | Where-Object Function -EQ compare).Count
    }

    It 'times the calls it can see return, in every return mode but EntryOnly (<_>)' -ForEach 'Uretprobe', 'RetInstruction' {
        $events = Start-UTrace -Command "$Dir/gotcalls" -ReturnMode $_ 6>$null
        $expected = $_ -eq 'Uretprobe' ? $timedAtCallSites : @($timedAtCallSites -replace '__cxa_finalize timed', '__cxa_finalize entry')
        Get-LibraryCallKind $events | Should -Be $expected
    }

    It 'reports every call at entry with -ReturnMode EntryOnly' {
        $events = Start-UTrace -Command "$Dir/gotcalls" -ReturnMode EntryOnly 6>$null
        @($events | Where-Object Module -EQ 'libc.so.6' | Where-Object HasDuration).Count | Should -Be 0
    }

    It 'opens a -Within scope at a call through the GOT' {
        $events = @(Start-UTrace -Command "$Dir/gotcalls" -Within qsort 6>$null)
        ($events | Group-Object Function -NoElement | Sort-Object Name | ForEach-Object { "$($_.Name) $($_.Count)" }) -join ', ' |
            Should -Be 'compare 16, qsort 1'
    }

    It 'nests the callbacks of a call through the GOT under it' {
        $compare = @(Start-UTrace -Command "$Dir/gotcalls" -Function compare, qsort 6>$null | Where-Object Function -EQ compare)
        $compare.Count | Should -Be 16
        @($compare | Where-Object Caller -NE 'qsort').Count | Should -Be 0
    }
}
