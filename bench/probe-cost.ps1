<#
.SYNOPSIS
    How well Utrace takes its probes' cost out of a caller's duration: a parent makes 100,000 calls
    to a traced leaf whose probes cost 4x (then 1x) the parent's own work per call. Compares the
    parent's corrected Duration (parent and leaf traced) with its Duration when only it is
    probed; prints a Markdown table. Takes about a minute; run it on a quiet machine.
.EXAMPLE
    pwsh bench/probe-cost.ps1
#>
param([int] $Calls = 100000, [int] $Rounds = 3)

. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchHost -Tool gcc -Packages gcc
$work = New-BenchWorkspace -Prefix 'utrace-probecost'
try {
    $source = Join-Path $work 'probecost.c'
    Set-Content -Path $source -Value @'
#include <stdlib.h>
/* Leaves whose first instruction the kernel emulates (push) or single-steps (mov). */
__asm__(".text\n.globl leaf_emulated\n.type leaf_emulated,@function\nleaf_emulated:\n\tpush %rbp\n\tpop %rbp\n\tret\n"
        ".size leaf_emulated, .-leaf_emulated\n"
        ".globl leaf_single_stepped\n.type leaf_single_stepped,@function\nleaf_single_stepped:\n\tmov %edi, %eax\n\tret\n"
        ".size leaf_single_stepped, .-leaf_single_stepped\n");
void leaf_emulated(void);
void leaf_single_stepped(void);
static volatile unsigned long sink;
__attribute__((noinline)) void parent(void (*leaf)(void), long calls, long spins)
{
    for (long i = 0; i < calls; i++) {
        for (long j = 0; j < spins; j++)
            sink += j;
        leaf();
    }
}
int main(int argc, char **argv)
{
    parent(argv[1][0] == 'e' ? leaf_emulated : leaf_single_stepped, atol(argv[2]), atol(argv[3]));
    return 0;
}
'@
    $program = Join-Path $work 'probecost'
    & gcc -O2 -o $program $source
    if ($LASTEXITCODE -ne 0) { throw 'gcc failed' }
    $calibration = Get-UTraceCalibration -ReturnMode Uretprobe -AttachMode MultiLink

    function Get-ParentDuration([string] $Kind, [long] $Spins, [string[]] $Function) {
        # -Summary keeps the leaf's calls in the kernel, which still counts them inside the parent (its one call).
        $row = Start-UTrace -Command "$program $Kind $Calls $Spins" -Function $Function -ReturnMode Uretprobe -AttachMode MultiLink -Summary -WarningAction SilentlyContinue |
            Where-Object Function -eq parent
        [pscustomobject]@{ Duration = $row.TotalNs; Raw = $row.TotalNs + $row.ProbeCost.Nanoseconds; Dominated = $row.ProbeDominated }
    }

    # ns of the parent's own work per spin, with only the parent probed.
    $probe = Get-ParentDuration 'e' 1000 parent
    $nsPerSpin = $probe.Duration / $Calls / 1000

    $rows = foreach ($kind in 'emulated', 'single_stepped') {
        $leafCost = if ($kind -eq 'emulated') { $calibration.EmulatedCall.Nanoseconds } else { $calibration.SingleSteppedCall.Nanoseconds }
        foreach ($ratio in 4, 1) {
            $spins = [long][Math]::Max(1, $leafCost / $ratio / $nsPerSpin)
            $alone = @(1..$Rounds | ForEach-Object { (Get-ParentDuration $kind[0] $spins parent).Duration } | Sort-Object)[[int]($Rounds / 2)]
            $both = @(1..$Rounds | ForEach-Object { Get-ParentDuration $kind[0] $spins parent, "leaf_$kind" } | Sort-Object Duration)[[int]($Rounds / 2)]
            "| $kind | ${ratio}x | $([Math]::Round($alone / 1e6, 1)) ms | $([Math]::Round($both.Raw / 1e6, 1)) ms | $([Math]::Round($both.Duration / 1e6, 1)) ms | $([Math]::Round($both.Duration / $alone, 2)) | $($both.Dominated) |"
        }
    }
    "Measured by bench/probe-cost.ps1 on $((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm')) UTC, kernel $($calibration.KernelRelease), $($calibration.CpuModel), load average $((Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3), $Calls calls, median of $Rounds rounds."
    "Calibration (Uretprobe): emulated $($calibration.EmulatedCall) a call ($($calibration.EmulatedInside) inside), single-stepped $($calibration.SingleSteppedCall) ($($calibration.SingleSteppedInside) inside)."
    ''
    '| leaf''s entry probe | probes : own work | parent alone | parent raw (both traced) | parent corrected | corrected / alone | dominated |'
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |'
    $rows
} finally {
    Remove-BenchWorkspace -Path $work
}
