<#
.SYNOPSIS
    Runs programs one after another, untraced or under Start-UTrace -Command, for ProgramRuns.ps1.
.DESCRIPTION
    Started as a child pwsh whose stdin, stdout and stderr are files: every program inherits them,
    so what a program writes lands in those files exactly as it wrote it. Before each run a marker
    line goes to both stdout and stderr; this script writes nothing else there. Each run is bounded
    by -TimeoutSeconds: a program still running then is reported as hung (with its /proc state)
    and killed; so is a traced program that calls a function more often than its CallLimits allow.
    What cannot go to stdout (exit code, call counts, warnings, errors) goes to -ResultFile, one JSON line
    per run, written as soon as the run ends so that a runner killed on the way still tells what
    it finished.
#>
param(
    [Parameter(Mandatory)] [string] $SpecFile,
    [Parameter(Mandatory)] [string] $ResultFile,
    [Parameter(Mandatory)] [int] $TimeoutSeconds
)
$ErrorActionPreference = 'Stop'
$WarningPreference = 'SilentlyContinue'
$ProgressPreference = 'SilentlyContinue'
Import-Module (Join-Path $PSScriptRoot '../../Utrace.psd1')
. (Join-Path $PSScriptRoot 'ProgramRuns.ps1')

# Every run reads stdin from its start: a program shares the runner's file offset, rewound before each run.
Add-Type -Namespace ProgramRun -Name Libc -MemberDefinition @'
[System.Runtime.InteropServices.DllImport("libc")] public static extern long lseek(int fd, long offset, int whence);
'@

$stdout = [Console]::OpenStandardOutput()
$stderr = [Console]::OpenStandardError()

function Write-Marker([string] $Key) {
    $bytes = [Text.Encoding]::UTF8.GetBytes((Get-ProgramRunMarker $Key))
    foreach ($stream in $stdout, $stderr) {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush()
    }
}

function Invoke-Untraced($Run) {
    $info = [Diagnostics.ProcessStartInfo]::new($Run.Program)
    foreach ($argument in $Run.Arguments) { $info.ArgumentList.Add($argument) }
    $process = [Diagnostics.Process]::Start($info)
    if ($process.WaitForExit($TimeoutSeconds * 1000)) {
        return @{ ExitCode = $process.ExitCode }
    }
    $state = Get-ProcessState $process.Id
    $process.Kill()
    @{ Hung = "still running after $TimeoutSeconds s, state $state" }
}

# The function a runaway program calls more often than CallLimits allow, if any.
function Find-Runaway($Run, [hashtable] $Counts) {
    foreach ($limit in $Run.CallLimits.PSObject.Properties) {
        if ($Counts[$limit.Name] -gt $limit.Value) { return "$($Counts[$limit.Name]) calls of $($limit.Name)" }
    }
}

# Events are counted as they arrive: a job that holds many unread events is slow to receive.
function Invoke-Traced($Run) {
    $trace = @{}
    foreach ($property in $Run.Trace.PSObject.Properties) { $trace[$property.Name] = $property.Value }
    $job = Start-UTrace -Command $Run.Program -ArgumentList $Run.Arguments @trace -AsJob
    try {
        $result = @{ Counts = @{}; Timed = @{} }
        $clock = [Diagnostics.Stopwatch]::StartNew()
        do {
            # Polled often: a looping program makes 10,000s of calls a second, slow to receive all at once.
            $finished = $job.Finished.WaitOne(100)
            foreach ($call in Receive-Job $job -ErrorVariable +jobErrors -ErrorAction SilentlyContinue -WarningVariable +jobWarnings) {
                $result.Counts[$call.Function]++
                if ($call.HasDuration) { $result.Timed[$call.Function]++ }
            }
            $runaway = Find-Runaway $Run $result.Counts
        } until ($finished -or $runaway -or $clock.Elapsed.TotalSeconds -gt $TimeoutSeconds)
        if (-not $finished) {
            $why = if ($runaway) { "looping: $runaway after $($clock.Elapsed.TotalSeconds.ToString('0.0')) s" } else { "still running after $TimeoutSeconds s" }
            $result.Hung = "$why, state $(Get-ProcessState $job.ProcessId)"
            Stop-UTrace $job | Out-Null
        }
        $summary = $job.Summary
        $result.ExitCode = $summary.ExitCode
        $result.CallsUnwound = $summary.CallsUnwound
        $result.EventsDropped = $summary.EventsDropped
        if ($jobErrors) { $result.Error = ($jobErrors | ForEach-Object ToString) -join "`n" }
        $result.Warnings = @($jobWarnings | ForEach-Object Message)
        $result
    } finally {
        Remove-Job $job -Force
    }
}

foreach ($run in Get-Content $SpecFile -Raw | ConvertFrom-Json) {
    Write-Marker $run.Key
    [ProgramRun.Libc]::lseek(0, 0, 0) | Out-Null
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $result = try {
        if ($run.Trace) { Invoke-Traced $run } else { Invoke-Untraced $run }
    } catch {
        @{ Error = "$($_.Exception.Message)" }
    }
    $result.Key = $run.Key
    $result.Seconds = [Math]::Round($clock.Elapsed.TotalSeconds, 2)
    Add-Content $ResultFile ($result | ConvertTo-Json -Depth 3 -Compress)
}
Write-Marker 'end'
