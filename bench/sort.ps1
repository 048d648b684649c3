<#
.SYNOPSIS
    The user's line on sort.c (bench/sort.c: fills an array with rand(), sorts it with merge_sort and with
    qsort(..., cmp), 3 rounds): `Start-UTrace -Command './sort N' | Where Duration -gt 1ms | Group-Object Function`,
    as is, with the advisor's exclusion pasted, and with -ProbeBudget 10; against the program untraced, the bare BPF
    counter (the floor) on its own functions, a trace of main, qsort and merge_sort only (the reference for what is
    over 1 ms), and Utrace's fixed cost (start, attach, detach: the line on `sort 0`).

.DESCRIPTION
    Each row is one run (the user's line on everything takes minutes at 200,000): wall time, and for the traced rows
    the functions with calls over 1 ms (name=count) and what the budget dropped. The advisor row pastes the
    -ExcludeFunction fragment of the warning the user's line got (that row needs the 'user' row in the same run).
    The floor probes the program's own functions only (libbpf's pattern '*' on its symbols): the library calls
    (rand, memcpy, qsort) are PLT stubs it does not see.

.EXAMPLE
    pwsh bench/sort.ps1 -Size 20000

.EXAMPLE
    pwsh bench/sort.ps1 -Size 200000 -Rows untraced, fixed, reference, budget
#>
[CmdletBinding()]
param(
    [int] $Size = 200000,

    [ValidateSet('untraced', 'floor', 'fixed', 'reference', 'user', 'advisor', 'budget')]
    [string[]] $Rows = @('untraced', 'floor', 'fixed', 'reference', 'user', 'advisor', 'budget'),

    [double] $Budget = 10,

    [string] $OutFile = (Join-Path $PSScriptRoot 'results/sort.md')
)

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchHost -Tool 'gcc', 'clang' -Packages 'gcc clang'
$startedAt = Get-Date
$loadBefore = Get-LoadAverage
$work = New-BenchWorkspace -Prefix 'utrace-sort'
try {
    $program = Join-Path $work 'sort'
    & gcc -O2 -o $program (Join-Path $PSScriptRoot 'sort.c')
    if ($LASTEXITCODE -ne 0) { throw 'gcc failed on bench/sort.c' }
    Push-Location $work

    # Runs the user's line with the extra parameters given; returns the row's figures.
    function Measure-Line([string] $Name, [int] $N, [hashtable] $Extra = @{}) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $groups = Start-UTrace -Command "./sort $N" @Extra -SummaryVariable summary -WarningVariable warnings -WarningAction SilentlyContinue |
            Where-Object Duration -gt 1ms | Group-Object Function
        $seconds = $clock.Elapsed.TotalSeconds
        [pscustomobject]@{
            Row      = $Name
            Seconds  = $seconds
            Over1ms  = ($groups | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' '
            Dropped  = ($summary.DroppedFunctions | ForEach-Object { "$($_.Function) after $($_.Calls)" }) -join ', '
            Attach   = $summary.AttachTime.TotalMilliseconds
            Detach   = $summary.DetachTime.TotalMilliseconds
            Warnings = @($warnings | ForEach-Object { "$_" })
        }
    }

    $results = [ordered]@{}
    foreach ($row in $Rows) {
        Write-Information "==> $row" -InformationAction Continue
        $results[$row] = switch ($row) {
            'untraced' {
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $null = & $program $Size
                [pscustomobject]@{ Row = $row; Seconds = $clock.Elapsed.TotalSeconds; Over1ms = ''; Dropped = ''; Attach = 0; Detach = 0; Warnings = @() }
            }
            'floor' {
                try { $floor = Build-BenchFloor $work 2>$null }
                catch {
                    Write-Warning "No floor row: $_"
                    [pscustomobject]@{ Row = $row; Seconds = [double]::NaN; Over1ms = "(not built: $_)"; Dropped = ''; Attach = 0; Detach = 0; Warnings = @() }
                    continue
                }
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $counted = & $floor.Loader $floor.Object '*' $program $Size | Select-Object -Last 1
                [pscustomobject]@{ Row = $row; Seconds = $clock.Elapsed.TotalSeconds; Over1ms = "($counted)"; Dropped = ''; Attach = 0; Detach = 0; Warnings = @() }
            }
            'fixed' { Measure-Line $row 0 }
            'reference' { Measure-Line $row $Size @{ Function = 'main', 'qsort', 'merge_sort' } }
            'user' { Measure-Line $row $Size }
            'advisor' {
                $advice = $results['user'].Warnings | Where-Object { $_ -like 'The probes of *' } | Select-Object -First 1
                if ($advice -notmatch '-ExcludeFunction (.+?) \(or') { Write-Warning 'No advice to paste: run the user row first.'; continue }
                Measure-Line "advisor (-ExcludeFunction $($Matches[1]))" $Size @{ ExcludeFunction = $Matches[1] -split ', ' }
            }
            'budget' { Measure-Line "budget (-ProbeBudget $Budget)" $Size @{ ProbeBudget = $Budget } }
        }
    }
    Pop-Location

    $md = ConvertTo-ResultMarkdown -Title 'sort.c' -StartedAt $startedAt -LoadBefore $loadBefore -Tools "gcc -O2, sort $Size"
    $untraced = if ($results['untraced']) { $results['untraced'].Seconds } else { $null }
    $null = $md.AppendLine().AppendLine('| row | wall s | x untraced | attach ms | detach ms | over 1 ms (calls) | dropped (calls until then) |')
    $null = $md.AppendLine('| --- | ---: | ---: | ---: | ---: | --- | --- |')
    foreach ($r in $results.Values) {
        $ratio = if ($untraced) { Format-Figure ($r.Seconds / $untraced) } else { '–' }
        $null = $md.AppendLine("| $($r.Row) | $(Format-Figure $r.Seconds) | $ratio | $(Format-Figure $r.Attach) | $(Format-Figure $r.Detach) | $($r.Over1ms) | $($r.Dropped) |")
    }
    if ($results['user']) {
        $null = $md.AppendLine().AppendLine('The user''s line warned:').AppendLine()
        foreach ($warning in $results['user'].Warnings) { $null = $md.AppendLine("> $warning").AppendLine() }
    }
    Save-Result -Markdown $md -OutFile $OutFile -FailedCount 0
}
finally {
    Remove-BenchWorkspace -Path $work
}
