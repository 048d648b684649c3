# Runtimes whose stacks move under return probes: Go copies a goroutine's stack as it grows and
# walks it, so its calls are reported at entry; Ruby's fibers switch stacks with its own
# coroutine_transfer, so its calls are timed until the first switch and reported at entry after it.
# Traced, they write and exit as untraced, with one warning that says why.
# Runtimes that leave calls by unwinding or longjmp (Rust panics, Lua's error, Perl's die) keep their
# return probes and are unharmed too. Each traced run probes a few functions only (a probe hit costs 5-20 us here).
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ProgramRuns.ps1')

    # Go runs as any user here (root in CI): its build cache and home in the test's own directory.
    $goProgram = Join-Path $TestDrive 'runtimes'
    $goHome = Join-Path $TestDrive 'gohome'
    env "GOCACHE=$goHome/cache" "HOME=$goHome" "GOPATH=$goHome/go" go build -o $goProgram (Join-Path $PSScriptRoot '../fixtures/go/runtimes.go')
    $LASTEXITCODE | Should -Be 0 -Because 'the Go fixture builds'
    $ruby = (Get-Command ruby -CommandType Application -TotalCount 1).Source
    $rubyScript = Join-Path $PSScriptRoot '../fixtures/ruby/fibers.rb'
    # Debian's rustc, which CI machines have (not a rustup toolchain that may come first in PATH).
    $rustProgram = Join-Path $TestDrive 'panics'
    /usr/bin/rustc -o $rustProgram (Join-Path $PSScriptRoot '../fixtures/rust/panics.rs')
    $LASTEXITCODE | Should -Be 0 -Because 'the Rust fixture builds'

    $goWarning = 'runtimes is a Go program, whose runtime moves and walks its stacks: return probes would change what it computes, ' +
        'so its calls are reported at entry, without durations (-ReturnMode EntryOnly). For durations of the calls during which its ' +
        'stack does not move, use -ReturnMode RetInstruction, which costs several microseconds more per call.'
    $rubyWarning = '^ruby3\.1 \(process \d+\) switched stacks \(coroutine_transfer, thread \d+\) at \d\d:\d\d:\d\d\.\d{3}: from then on ' +
        'its calls are reported at entry, without durations, since return probes would have broken the switch \(the calls then running ' +
        'in that thread have none either\)\.$'

    $go = @{ Program = $goProgram; Arguments = @(); CallLimits = @{ 'main.level' = 100000; 'main.depth' = 100000 } }
    $rubyRun = @{ Program = $ruby; Arguments = @($rubyScript); CallLimits = @{ 'rb_fiber_resume_kw' = 1000 } }
    $rust = @{ Program = $rustProgram; Arguments = @(); CallLimits = @{ descend = 1000 } }
    $lua = @{ Program = '/usr/bin/lua5.4'; Arguments = @(Join-Path $PSScriptRoot '../fixtures/lua/errors.lua'); CallLimits = @{ lua_pcallk = 100 } }
    $perl = @{ Program = '/usr/bin/perl'; Arguments = @(Join-Path $PSScriptRoot '../fixtures/perl/errors.pl'); CallLimits = @{ Perl_pp_entertry = 100 } }
    $runs = @(
        $go + @{ Key = 'go/untraced'; Trace = $null }
        $go + @{ Key = 'go/default'; Trace = @{} }
        $go + @{ Key = 'go/main.*'; Trace = @{ Function = 'main.*' } }
        $rubyRun + @{ Key = 'ruby/untraced'; Trace = $null }
        $rubyRun + @{ Key = 'ruby/nested'; Trace = @{ NestLibrary = 'libruby*'; Function = 'rb_fiber*' } }
        $rust + @{ Key = 'rust/untraced'; Trace = $null }
        $rust + @{ Key = 'rust/traced'; Trace = @{ Function = 'descend' } }
        $lua + @{ Key = 'lua/untraced'; Trace = $null }
        $lua + @{ Key = 'lua/traced'; Trace = @{ Function = 'lua_pcallk', 'lua_error', 'lua_resume' } }
        $perl + @{ Key = 'perl/untraced'; Trace = $null }
        $perl + @{ Key = 'perl/traced'; Trace = @{ Function = 'Perl_pp_die', 'Perl_pp_entertry', 'Perl_pp_entereval' } }
    )
    $script:Results = Invoke-ProgramRunBatch -Run $runs -WorkDirectory (Join-Path $TestDrive 'runs') -TimeoutSeconds 120
}

Describe 'A Go program (goroutines, stack growth, a recovered panic)' -Skip:$noBpf {
    It 'writes and exits as expected untraced (the oracle)' {
        Format-ProgramRun $Results['go/untraced'] | Should -BeExactly ("exit 3; stdout 'depth 5000\nworkers [500 1000 1500 2000]\ndivide 2 5 <nil>\n" +
            "divide 0 0 recovered: runtime error: integer divide by zero\ndivide 5 2 <nil>\n'; stderr ''")
    }

    It 'writes and exits as untraced, entry-only with one warning (<_>)' -ForEach 'go/default', 'go/main.*' {
        $run = $Results[$_]
        Format-ProgramRun $run | Should -BeExactly (Format-ProgramRun $Results['go/untraced'])
        $run.Warnings | Should -Be @($goWarning)
        # 10001 levels in main, 1001 to 4001 in the workers. level has no stack check; depth's probe sits past its
        # stack check, so a call whose stack grows (and starts over from the entry) is still counted once.
        $run.Counts['main.level'] | Should -Be 20005
        $run.Counts['main.depth'] | Should -Be 20005
    }
}

Describe 'A Ruby script with fibers and a rescued exception, libruby traced' -Skip:$noBpf {
    It 'writes and exits as expected untraced (the oracle)' {
        Format-ProgramRun $Results['ruby/untraced'] | Should -BeExactly ("exit 4; stdout 'rescued producer done\nvalues [0, 1, 4]\n" +
            "counters [[10, 11, 12], [20, 21, 22]]\n'; stderr ''")
    }

    It 'writes and exits as untraced, timed until its first fiber switch, with one warning that says when' {
        $run = $Results['ruby/nested']
        Format-ProgramRun $run | Should -BeExactly (Format-ProgramRun $Results['ruby/untraced'])
        $run.Warnings | Should -HaveCount 1
        $run.Warnings[0] | Should -Match $rubyWarning
        # Four resumes of the producer (the fourth ends in the exception), two of each of three counters.
        $run.Counts['rb_fiber_resume_kw'] | Should -Be 10
        # Every resume and yield runs across a switch: none is timed. Ruby asks for the current fiber (and its
        # scheduler) while it starts, before any switch: each of those calls is.
        [int]$run.Timed['rb_fiber_resume_kw'] | Should -Be 0
        [int]$run.Timed['rb_fiber_yield_kw'] | Should -Be 0
        $run.Counts['rb_fiber_current'] | Should -BeGreaterThan 0
        $run.Timed['rb_fiber_current'] | Should -Be $run.Counts['rb_fiber_current']
        $run.Timed['rb_fiber_scheduler_current'] | Should -Be $run.Counts['rb_fiber_scheduler_current']
    }
}

Describe 'A Rust program (panics caught with catch_unwind, threads, one panicking uncaught)' -Skip:$noBpf {
    It 'writes and exits as expected untraced (the oracle)' {
        Format-ProgramRun $Results['rust/untraced'] | Should -BeExactly ("exit 6; stdout 'caught failed at 3\ncaught failed at 6\ncaught failed at 9\n" +
            "depth 10\ndepth 10\nworkers [10, 20, 30, 40]\nthread panicked: failed at 25\n'; " +
            "stderr 'panic: failed at 3\npanic: failed at 6\npanic: failed at 9\npanic: failed at 25\n'")
    }

    It 'writes and exits as untraced, its returned calls reported and its panicked ones unwound' {
        $run = $Results['rust/traced']
        Format-ProgramRun $run | Should -BeExactly (Format-ProgramRun $Results['rust/untraced'])
        $run.Warnings | Should -Be @()
        # Returned: 11 + 11 in main (no failure above 10), 11 + 21 + 31 + 41 in the workers.
        $run.Counts['descend'] | Should -Be 126
        # Panicked through 8 + 5 + 2 calls in main, each counted at main's next traced call; the
        # failing thread's 26 end with the thread, which makes no further traced call.
        $run.CallsUnwound | Should -Be 15
    }
}

Describe 'Interpreters whose errors longjmp: Lua 5.4 (pcall/error), Perl (eval/die)' -Skip:$noBpf {
    It 'writes and exits as expected untraced (the oracle, <_>)' -ForEach 'lua', 'perl' {
        $expected = @{
            lua = "exit 3; stdout 'caught failed at 3\ncaught failed at 6\ncaught failed at 9\ndepth 10\ndepth 10\n" +
                "runtime error caught`tfalse`tattempt to index a nil value (local 't')\nrethrown`tfalse`t8\nvalues 1,4,9`tproducer done\n'; " +
                "stderr 'to stderr\n'"
            perl = "exit 5; stdout 'caught failed at 3\ncaught failed at 6\ncaught failed at 9\ndepth 10\ndepth 10\nrethrown 8\n" +
                "syntax error caught: yes\n'; stderr 'to stderr\n'"
        }
        Format-ProgramRun $Results["$_/untraced"] | Should -BeExactly $expected[$_]
    }

    # A call left by longjmp is not reported: it is counted unwound at the thread's next traced call.
    It 'writes and exits as untraced, its error calls unwound (<Interpreter>)' -ForEach @(
        # The script's 9 pcalls; the producer resumed 4 times (3 yields, then its error). error() 6
        # times, and coroutine.wrap raising the producer's error again: 7 lua_error, each left by longjmp.
        @{ Interpreter = 'lua'; Counts = @{ lua_pcallk = 9; lua_resume = 4; lua_error = 0 }; Unwound = 7 }
        # 5 + 2 eval blocks and one string eval; 3 + 2 dies.
        @{ Interpreter = 'perl'; Counts = @{ Perl_pp_entertry = 7; Perl_pp_entereval = 1; Perl_pp_die = 0 }; Unwound = 5 }
    ) {
        $run = $Results["$Interpreter/traced"]
        Format-ProgramRun $run | Should -BeExactly (Format-ProgramRun $Results["$Interpreter/untraced"])
        $run.Warnings | Should -Be @()
        Format-CallCount $Counts $run.Counts | Should -Be (Format-CallCount $Counts)
        $run.CallsUnwound | Should -Be $Unwound
    }
}
