# Runtimes whose stacks move under return probes: Go copies a goroutine's stack as it grows and
# walks it, so its calls are reported at entry; Ruby's fibers switch stacks with its own
# coroutine_transfer, so its calls are timed until the first switch and reported at entry after it.
# Traced, they write and exit as untraced, with one warning that says why.
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

    $goWarning = 'runtimes is a Go program, whose runtime moves and walks its stacks: return probes would change what it computes, ' +
        'so its calls are reported at entry, without durations (-ReturnMode EntryOnly). For durations of the calls during which its ' +
        'stack does not move, use -ReturnMode RetInstruction, which costs several microseconds more per call.'
    $rubyWarning = '^ruby3\.1 \(process \d+\) switched stacks \(coroutine_transfer, thread \d+\) at \d\d:\d\d:\d\d\.\d{3}: from then on ' +
        'its calls are reported at entry, without durations, since return probes would have broken the switch \(the calls then running ' +
        'in that thread have none either\)\.$'

    $go = @{ Program = $goProgram; Arguments = @(); CallLimits = @{ 'main.level' = 100000; 'main.depth' = 100000 } }
    $rubyRun = @{ Program = $ruby; Arguments = @($rubyScript); CallLimits = @{ 'rb_fiber_resume_kw' = 1000 } }
    $runs = @(
        $go + @{ Key = 'go/untraced'; Trace = $null }
        $go + @{ Key = 'go/default'; Trace = @{} }
        $go + @{ Key = 'go/main.*'; Trace = @{ Function = 'main.*' } }
        $rubyRun + @{ Key = 'ruby/untraced'; Trace = $null }
        $rubyRun + @{ Key = 'ruby/nested'; Trace = @{ NestLibrary = 'libruby*'; Function = 'rb_fiber*' } }
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
