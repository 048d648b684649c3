# -Within: only the calls made while a scope function's call is on the thread's stack (that call
# included) are sent; the others are filtered in the kernel. Depth and Caller stay those of the whole
# traced stack. The scoped fixture calls work() from caller_a (directly and through helper), from
# caller_b and from main; caller_a runs twice.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $scoped = Join-Path $FixtureBin 'shared/scoped'
    # "function/depth/caller=count" for each kind of call, sorted.
    function Format-Scoped($Calls) {
        ($Calls | Group-Object { "$($_.Function)/$($_.Depth)/$($_.Caller)" } | Sort-Object Name |
            ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' '
    }
    $underCallerA = 'caller_a/1/main=2 helper/2/caller_a=2 work/2/caller_a=6 work/3/helper=2'
}

Describe 'Start-UTrace -Within' -Skip:$noBpf {
    It 'sends exactly the calls under caller_a, with their depth and caller in the whole stack' {
        $calls = Start-UTrace -Command $scoped -Within caller_a -SummaryVariable summary
        Format-Scoped $calls | Should -Be $underCallerA
        $summary.ExitCode | Should -Be 0
        # Filtered in the kernel: main, caller_b, work(5..7), and the calls to printf and (at exit) __cxa_finalize.
        $summary.EventsSent | Should -Be 12
        $summary.EventsFiltered | Should -Be 7
        @($calls | Where-Object { -not $_.HasDuration }).Count | Should -Be 0
    }

    It 'scopes to a function called inside the scope of another (-Within helper)' {
        Format-Scoped (Start-UTrace -Command $scoped -Within helper) | Should -Be 'helper/2/caller_a=2 work/3/helper=2'
    }

    It 'traces the scope function even where -Function leaves it out' {
        # main and helper are not traced: caller_a is outermost, and work under helper is caller_a's callee.
        Format-Scoped (Start-UTrace -Command $scoped -Function work -Within caller_a) | Should -Be 'caller_a/0/=2 work/1/caller_a=8'
    }

    It 'summarizes the same calls in the kernel (-Summary), caller_a being the traced time' {
        $summaries = Start-UTrace -Command $scoped -Within caller_a -Summary
        ($summaries | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls)" }) -join ' ' | Should -Be 'caller_a=2 helper=2 work=8'
        ($summaries | Where-Object Function -EQ caller_a).TotalPercent | Should -Be 100
    }

    It 'records the same calls in a trace file (-OutFile)' {
        $file = Join-Path $TestDrive 'scoped.arrows'
        Start-UTrace -Command $scoped -Within caller_a -OutFile $file | Out-Null
        Format-Scoped (Import-UTrace $file) | Should -Be $underCallerA
    }

    It 'scopes the programs a followed process runs (-Follow)' {
        $calls = Start-UTrace -Command sh -ArgumentList '-c', "$scoped; $scoped" -Follow -Within caller_a
        Format-Scoped $calls | Should -Be 'caller_a/1/main=4 helper/2/caller_a=4 work/2/caller_a=12 work/3/helper=4'
    }

    It 'warns when no function opens the scope' {
        $calls = Start-UTrace -Command $scoped -Within no_such_function -WarningVariable warned 3>$null
        @($calls).Count | Should -Be 0
        $warned.Message | Should -Contain '-Within matches no function of scoped: no call will be reported. List the names with Get-UTraceFunction.'
    }

    It 'refuses a pattern that is not a wildcard' {
        $err = Get-ErrorRecord { Start-UTrace -Command $scoped -Within '[' }
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be '['
    }
}
