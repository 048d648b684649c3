# Runs programs untraced and under Start-UTrace with the same stdin, stdout and stderr, so that
# tests can compare exactly what a program wrote and how it exited. Dot-source it.

# Separates the runs in the runner's stdout and stderr.
function Get-ProgramRunMarker([string] $Key) { "@@program-run $Key`n" }

<#
.SYNOPSIS
    Runs every run of -Run in one child pwsh (Invoke-ProgramRun.ps1) and returns a hashtable: key ->
    @{ Stdout; Stderr; ExitCode; Hung; Error; Counts (function -> calls); CallsUnwound; EventsDropped }.
.PARAMETER Run
    Hashtables @{ Key; Program; Arguments; Trace; CallLimits }: Trace $null runs the program
    untraced, a hashtable runs it under Start-UTrace -Command with those parameters (@{} for the
    defaults); CallLimits (function -> calls) stops a traced program that loops.
.PARAMETER InputText
    What every program reads on stdin.
#>
function Invoke-ProgramRunBatch {
    param(
        [Parameter(Mandatory)] [hashtable[]] $Run,
        [Parameter(Mandatory)] [string] $WorkDirectory,
        [string] $InputText = '',
        [int] $TimeoutSeconds = 60
    )
    $null = New-Item -ItemType Directory -Force $WorkDirectory
    $files = @{}
    foreach ($name in 'spec', 'stdin', 'stdout', 'stderr', 'results') { $files[$name] = Join-Path $WorkDirectory $name }
    ConvertTo-Json -InputObject $Run -Depth 4 | Set-Content $files.spec
    Set-Content $files.stdin $InputText -NoNewline
    Remove-Item $files.results -ErrorAction SilentlyContinue

    # bash gives the runner real files as stdin, stdout and stderr, which the programs then share.
    $info = [Diagnostics.ProcessStartInfo]::new('bash')
    $arguments = @('-c', 'exec "${@:4}" <"$1" >"$2" 2>"$3"', 'bash', $files.stdin, $files.stdout, $files.stderr,
        'pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $PSScriptRoot 'Invoke-ProgramRun.ps1'),
        '-SpecFile', $files.spec, '-ResultFile', $files.results, '-TimeoutSeconds', $TimeoutSeconds)
    foreach ($argument in $arguments) { $info.ArgumentList.Add($argument) }
    $info.Environment['NO_COLOR'] = '1'
    $runner = [Diagnostics.Process]::Start($info)
    # Every run is bounded; this only catches a runner that hangs outside of them.
    $runnerKilled = -not $runner.WaitForExit(($TimeoutSeconds + 30) * 1000 * $Run.Count)
    if ($runnerKilled) { $runner.Kill($true) }

    $results = @{}
    foreach ($line in Get-Content $files.results -ErrorAction SilentlyContinue) {
        $result = $line | ConvertFrom-Json -AsHashtable
        $results[$result.Key] = $result
    }
    foreach ($stream in 'Stdout', 'Stderr') {
        $pieces = [regex]::Split((Get-Content $files[$stream.ToLower()] -Raw) + '', '@@program-run (.+)\n')
        for ($i = 1; $i + 1 -lt $pieces.Count; $i += 2) {
            if ($results.ContainsKey($pieces[$i])) { $results[$pieces[$i]][$stream] = $pieces[$i + 1] }
        }
    }
    foreach ($each in $Run) {
        if (-not $results.ContainsKey($each.Key)) {
            $why = if ($runnerKilled) { 'the runner was killed' } else { "the runner exited with code $($runner.ExitCode)" }
            $stderr = "$(Get-Content $files.stderr -Raw)"
            $results[$each.Key] = @{ Error = "no result: $why; its stderr: $($stderr.Substring(0, [Math]::Min(400, $stderr.Length)))" }
        }
    }
    $results
}

# "R (running)", "T (stopped)", ... from /proc/PID/stat: how a process that failed to end stands.
function Get-ProcessState([int] $ProcessId) {
    $stat = Get-Content "/proc/$ProcessId/stat" -Raw -ErrorAction SilentlyContinue
    if (-not $stat) { return 'gone' }
    $state = $stat.Substring($stat.LastIndexOf(')') + 2, 1)
    $name = switch -CaseSensitive ($state) { 'R' { 'running' } 'S' { 'sleeping' } 'D' { 'disk sleep' } 'T' { 'stopped' } 't' { 'tracing stop' } 'Z' { 'zombie' } }
    "$state ($name)"
}

# One line that tells how a run ended and what it wrote, to compare a traced run with an untraced one.
function Format-ProgramRun([hashtable] $Result, [switch] $IgnoreStdout) {
    if ($Result.Error) { return "error: $($Result.Error)" }
    if ($Result.Hung) { return "hung: $($Result.Hung)" }
    $code = $Result.ExitCode
    $ending = if ($code -gt 128) { "signal $($code - 128)" } else { "exit $code" }
    $stdout = if ($IgnoreStdout) { '(not compared)' } else { "'$($Result.Stdout -replace "`n", '\n')'" }
    "$ending; stdout $stdout; stderr '$($Result.Stderr -replace "`n", '\n')'"
}

# "name=count" for each function of -Expected, sorted: the expected counts, or with -Counts the
# counts a run reported for those functions (none for a run that failed to start).
function Format-CallCount([hashtable] $Expected, [hashtable] $Counts = $Expected) {
    if ($null -eq $Counts) { $Counts = @{} }
    ($Expected.Keys | Sort-Object | ForEach-Object { "$_=$([int]$Counts[$_])" }) -join ' '
}
