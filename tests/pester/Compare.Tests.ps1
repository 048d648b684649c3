# Compare-UTrace: two runs of the demo (1 and 3 rounds) side by side. The oracle is each run's
# own events counted with Group-Object; every kind of input gives the same comparison.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $demo = Join-Path $TestDrive 'demo'
    cc -O0 -o $demo (Join-Path $PSScriptRoot '../../examples/demo.c')

    function Get-CallCount($Events) {
        $counts = @{}
        $Events | Group-Object Function, Module | ForEach-Object { $counts[$_.Name] = $_.Count }
        $counts
    }

    # Function, module and change in calls of each line, in output order.
    function Format-Delta($Comparison) {
        ($Comparison | ForEach-Object { "$($_.Function), $($_.Module)=$($_.CallsDelta)" }) -join ' '
    }
}

Describe 'Compare-UTrace' -Skip:$noBpf {
    BeforeAll {
        Start-UTrace -Command "$demo 1" -OutFile (Join-Path $TestDrive 'before.arrows')
        Start-UTrace -Command "$demo 3" -OutFile (Join-Path $TestDrive 'after.arrows')
        $before = @(Import-UTrace (Join-Path $TestDrive 'before.arrows'))
        $after = @(Import-UTrace (Join-Path $TestDrive 'after.arrows'))
        $expected = Compare-UTrace -Reference $before -Difference $after -SortBy Calls
    }

    It 'gives each function the exact change in calls, as the two runs count them' {
        $reference = Get-CallCount $before
        $difference = Get-CallCount $after
        $names = @($reference.Keys) + @($difference.Keys) | Sort-Object -Unique
        @($expected).Count | Should -Be $names.Count
        foreach ($line in $expected) {
            $key = "$($line.Function), $($line.Module)"
            $line.ReferenceCalls | Should -Be ([int]$reference[$key]) -Because $key
            $line.DifferenceCalls | Should -Be ([int]$difference[$key]) -Because $key
            $line.CallsDelta | Should -Be ($difference[$key] - $reference[$key]) -Because $key
        }
    }

    It 'knows what the demo does: main once a run, save_results once a round' {
        $byName = @{}
        $expected | ForEach-Object { $byName[$_.Function] = $_ }
        $byName['main'].CallsDelta | Should -Be 0
        $byName['save_results'].CallsDelta | Should -Be 2
        $byName['save_results'].CallsRatio | Should -Be 3
        $byName['main'].Side | Should -Be 'Both'
    }

    It 'orders the lines by the largest change of the figure asked for' {
        $deltas = @($expected | ForEach-Object { [math]::Abs($_.CallsDelta) })
        $deltas | Should -Be ($deltas | Sort-Object -Descending)
        $totals = @(Compare-UTrace $before $after | ForEach-Object { [math]::Abs($_.TotalDelta.Nanoseconds) })
        $totals | Should -Be ($totals | Sort-Object -Descending)
    }

    It 'gives the same comparison from the trace files, from Get-ChildItem and from the pipeline' {
        $fromFiles = Compare-UTrace (Join-Path $TestDrive 'before.arrows') (Join-Path $TestDrive 'after.arrows') -SortBy Calls
        Format-Delta $fromFiles | Should -Be (Format-Delta $expected)
        $fromItems = Get-Item (Join-Path $TestDrive 'after.arrows') | Compare-UTrace -Reference (Get-Item (Join-Path $TestDrive 'before.arrows')) -SortBy Calls
        Format-Delta $fromItems | Should -Be (Format-Delta $expected)
        ($fromFiles | ForEach-Object { $_.TotalDelta.Nanoseconds }) -join ' ' | Should -Be (($expected | ForEach-Object { $_.TotalDelta.Nanoseconds }) -join ' ')
    }

    It 'compares Measure-UTrace summaries, read back from Export-Clixml too, as it compares the calls' {
        $path = Join-Path $TestDrive 'before.xml'
        $before | Measure-UTrace | Export-Clixml $path
        $fromSummaries = $after | Measure-UTrace | Compare-UTrace -Reference (Import-Clixml $path) -SortBy Calls
        Format-Delta $fromSummaries | Should -Be (Format-Delta $expected)
    }

    It 'compares in-kernel summaries (-Summary) by the same calls' {
        $kernel = Compare-UTrace (Start-UTrace -Command "$demo 1" -Summary) (Start-UTrace -Command "$demo 3" -Summary) -SortBy Calls
        ($kernel | Where-Object CallsDelta -NE 0 | ForEach-Object { "$($_.Function)=$($_.CallsDelta)" } | Sort-Object) -join ' ' |
            Should -Be (($expected | Where-Object CallsDelta -NE 0 | ForEach-Object { "$($_.Function)=$($_.CallsDelta)" } | Sort-Object) -join ' ')
    }

    It 'marks a function called on one side only, with no ratio where the reference is 0' {
        $lines = Compare-UTrace ($before | Where-Object Function -NE 'partition') ($after | Where-Object Function -NE 'save_results') -SortBy Calls
        $partition = $lines | Where-Object Function -EQ 'partition'
        $partition.Side | Should -Be 'DifferenceOnly'
        $partition.ReferenceCalls | Should -Be 0
        $partition.CallsRatio | Should -BeNullOrEmpty
        ($lines | Where-Object Function -EQ 'save_results').Side | Should -Be 'ReferenceOnly'
    }

    It 'gives a non-terminating InputNotComparable error for what is not a trace, and goes on' {
        $lines = Compare-UTrace -Reference 42, $before -Difference $after -SortBy Calls -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'InputNotComparable,Utrace.PowerShell.CompareUTraceCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidType'
        Format-Delta $lines | Should -Be (Format-Delta $expected)
    }
}
