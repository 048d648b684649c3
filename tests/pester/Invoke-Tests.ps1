<#
.SYNOPSIS
    Builds the fixture programs and runs the Pester end-to-end tests; writes "passed failed skipped" to -ResultFile.
.DESCRIPTION
    The BPF tests need root and a kernel with uprobes and BTF. Where those are missing they are
    skipped, except under CI=true, where that is a failure.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ResultFile
)
$ErrorActionPreference = 'Stop'
$repo = (Resolve-Path "$PSScriptRoot/../..").Path

function Write-Result([int] $Passed, [int] $Failed, [int] $Skipped) {
    Set-Content -Path $ResultFile -Value "$Passed $Failed $Skipped"
}

if (-not $PesterPath -or -not (Test-Path $PesterPath)) {
    Write-Warning "Pester 6.2.0 was not found (it is downloaded by restoring tests/Utrace.Tests)."
    Write-Result 0 1 0
    exit 1
}

& make -s -j2 -C "$repo/tests/fixtures" OUT="$repo/tests/fixtures/bin"
if ($LASTEXITCODE -ne 0) { Write-Warning 'Building the fixtures failed.'; Write-Result 0 1 0; exit 1 }

$missing = @(
    if ((id -u) -ne '0') { 'root (run the tests with sudo)' }
    if (-not (Test-Path /sys/kernel/btf/vmlinux)) { 'kernel BTF (/sys/kernel/btf/vmlinux)' }
    if (-not (Test-Path /sys/bus/event_source/devices/uprobe)) { 'uprobes (CONFIG_UPROBE_EVENTS)' }
)
if ($missing) {
    if ($env:CI -eq 'true') {
        Write-Warning "FAIL: CI=true but BPF tracing is not possible here: missing $($missing -join ', ')."
        Write-Result 0 1 0
        exit 1
    }
    Write-Warning "BPF tests will be skipped: missing $($missing -join ', ')."
    $env:UTRACE_NO_BPF = $missing -join ', '
}

Import-Module $PesterPath -Force
$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $config
Write-Result $result.PassedCount ($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount) $result.SkippedCount
