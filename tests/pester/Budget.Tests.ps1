# What the probes cost, watched while a trace runs: the advisor's one warning when a few functions' probes dominate
# the program's time, and -ProbeBudget, which stops probing a function over it and keeps every other function exact.
# hotleaf N makes N calls of leaf, 10 of parent and 10 of tally; leaf's probes are nearly all of its time.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:program = Join-Path $FixtureBin 'gcc-O2-pie/hotleaf'
    function Get-CallCount($Calls) {
        ($Calls | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' '
    }
}

Describe 'Without -ProbeBudget' -Skip:$noBpf {
    It 'probes every call of every function' {
        $rows = Start-UTrace -Command "$program 20000" -Function leaf, parent, tally -Summary -SummaryVariable summary
        ($rows | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls)" }) -join ' ' | Should -Be 'leaf=20000 parent=10 tally=10'
        $summary.DroppedFunctions | Should -HaveCount 0
    }
}

Describe '-ProbeBudget' -Skip:$noBpf {
    BeforeAll {
        $script:file = Join-Path ([IO.Path]::GetTempPath()) "utrace-budget-$PID.utrace"
        $script:calls = @(Start-UTrace -Command "$program 400000" -Function leaf, parent, tally -ProbeBudget 10 -OutFile $file -PassThru `
                -SummaryVariable summary -WarningVariable warnings -WarningAction SilentlyContinue)
    }
    AfterAll { Remove-Item $file -ErrorAction SilentlyContinue }

    It 'drops the hot leaf after its minimum of calls, and keeps every call it traced' {
        $summary.DroppedFunctions.Function | Should -Be 'leaf'
        $dropped = $summary.DroppedFunctions[0]
        $dropped.Calls | Should -BeGreaterOrEqual 1000
        $dropped.Calls | Should -BeLessThan 400000
        @($calls | Where-Object Function -eq leaf) | Should -HaveCount $dropped.Calls
    }

    It 'keeps every other function exact' {
        Get-CallCount ($calls | Where-Object Function -ne leaf) | Should -Be 'parent=10 tally=10'
        $summary.ReturnsUnmatched | Should -Be 0
        $summary.CallsUnwound | Should -Be 0
    }

    It 'names what it dropped when the trace ends' {
        $text = "$($warnings | Where-Object { "$_" -like '-ProbeBudget*' })"
        $text | Should -Match "^-ProbeBudget stopped probing 1 function\(s\), whose later calls are not reported: leaf at \d\d:\d\d:\d\d\.\d{3} after $($summary.DroppedFunctions[0].Calls.ToString('#,0')) calls \(its probes had cost [\d,]+% of the program's own CPU time\)\. The summary's DroppedFunctions lists them\.$"
    }

    It 'needs -ProbeBudget for -ProbeBudgetMinCalls' {
        { Start-UTrace -Command "$program 10" -ProbeBudgetMinCalls 5 -ErrorAction Stop } |
            Should -Throw -ErrorId 'MinCallsWithoutBudget,Utrace.PowerShell.StartUTraceCommand'
    }
}

Describe 'The probe-cost advisor' -Skip:$noBpf {
    It 'names the function whose probes dominate, once, with the exclusion to paste' {
        $null = Start-UTrace -Command "$program 500000" -Function leaf, parent, tally -Summary -WarningVariable warnings -WarningAction SilentlyContinue
        $advice = @($warnings | Where-Object { "$_" -like 'The probes of *' })
        $advice | Should -HaveCount 1
        "$($advice[0])" | Should -Match ("^The probes of leaf \([\d,]+ calls/s\) take about \d+% of the program's CPU time, so their callers' durations are mostly " +
            "probe cost\. Without them it would run about [\d.]+x faster: add -ExcludeFunction leaf \(or -ProbeBudget 10 to stop probing such " +
            "functions as the trace runs\)\.$")
    }

    It 'says nothing when no function dominates' {
        $null = Start-UTrace -Command "$program 1000" -Function leaf, parent, tally -Summary -WarningVariable warnings -WarningAction SilentlyContinue
        @($warnings | Where-Object { "$_" -like 'The probes of *' }) | Should -HaveCount 0
    }
}
