# Runs programs untraced and under Start-UTrace with the same stdin, stdout and stderr, so that
# tests can compare exactly what a program wrote and how it exited. Dot-source it.

# Separates the runs in the runner's stdout and stderr: a line of this prefix and the run's key.
$ProgramRunMarkerPrefix = '@@program-run '

function Get-ProgramRunMarker([string] $Key) { "$ProgramRunMarkerPrefix$Key`n" }

<#
.SYNOPSIS
    Runs every run of -Run in a child pwsh (Invoke-ProgramRun.ps1) and returns a hashtable: key ->
    @{ Stdout; Stderr; ExitCode; Hung; Error; Counts (function -> calls); Timed (function -> calls with a
    duration); CallsUnwound; EventsDropped;
    Warnings }.
.DESCRIPTION
    Each run is bounded by the runner. A runner that itself stops answering (a cmdlet that never
    returns) is killed, its current run reported as stuck, and a new runner goes on with the rest.
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
    Set-Content $files.stdin $InputText -NoNewline
    foreach ($name in 'stdout', 'stderr', 'results') { Set-Content $files[$name] $null }

    $results = @{}
    $pending = $Run
    while ($pending) {
        ConvertTo-Json -InputObject $pending -Depth 4 | Set-Content $files.spec
        $runner = Start-ProgramRunner $files $TimeoutSeconds
        $stuck = -not (Wait-ProgramRunner $runner $files.results ($TimeoutSeconds + 15))
        foreach ($line in Get-Content $files.results) {
            $result = $line | ConvertFrom-Json -AsHashtable
            $results[$result.Key] = $result
        }
        $pending = @($pending | Where-Object { -not $results.ContainsKey($_.Key) })
        if (-not $pending) { break }
        if ($stuck) {
            $results[$pending[0].Key] = @{ Error = "stuck: the runner gave no result $($TimeoutSeconds + 15) s after the run began, and was killed" }
            $pending = @($pending | Select-Object -Skip 1)
        } else {
            $stderr = "$(Get-Content $files.stderr -Raw)"
            $why = "no result: the runner exited with code $($runner.ExitCode); its stderr ends: $($stderr.Substring([Math]::Max(0, $stderr.Length - 400)))"
            foreach ($each in $pending) { $results[$each.Key] = @{ Error = $why } }
            $pending = @()
        }
    }

    foreach ($stream in 'Stdout', 'Stderr') {
        $pieces = [regex]::Split((Get-Content $files[$stream.ToLower()] -Raw) + '', [regex]::Escape($ProgramRunMarkerPrefix) + '(.+)\n')
        for ($i = 1; $i + 1 -lt $pieces.Count; $i += 2) {
            if ($results.ContainsKey($pieces[$i])) { $results[$pieces[$i]][$stream] = $pieces[$i + 1] }
        }
    }
    $results
}

# bash gives the runner real files as stdin, stdout and stderr, which the programs then share; a
# runner started after a stuck one appends to them.
function Start-ProgramRunner {
    [CmdletBinding(SupportsShouldProcess)]
    param([hashtable] $Files, [int] $TimeoutSeconds)
    if (-not $PSCmdlet.ShouldProcess($Files.spec, 'Start a program runner')) { return }
    $info = [Diagnostics.ProcessStartInfo]::new('bash')
    $arguments = @('-c', 'exec "${@:4}" <"$1" >>"$2" 2>>"$3"', 'bash', $Files.stdin, $Files.stdout, $Files.stderr,
        'pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $PSScriptRoot 'Invoke-ProgramRun.ps1'),
        '-SpecFile', $Files.spec, '-ResultFile', $Files.results, '-TimeoutSeconds', $TimeoutSeconds)
    foreach ($argument in $arguments) { $info.ArgumentList.Add($argument) }
    $info.Environment['NO_COLOR'] = '1'
    [Diagnostics.Process]::Start($info)
}

# Waits for the runner to exit; false, after killing it with the program it runs, if no run ended
# within -Seconds.
function Wait-ProgramRunner([Diagnostics.Process] $Runner, [string] $ResultFile, [int] $Seconds) {
    $finished = 0
    $quiet = [Diagnostics.Stopwatch]::StartNew()
    while (-not $Runner.WaitForExit(200)) {
        $now = (Get-Item $ResultFile).Length
        if ($now -ne $finished) {
            $finished = $now
            $quiet.Restart()
        } elseif ($quiet.Elapsed.TotalSeconds -gt $Seconds) {
            $Runner.Kill($true)
            $Runner.WaitForExit()
            return $false
        }
    }
    $true
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
