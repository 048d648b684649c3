#Requires -Version 7.4

<#
.SYNOPSIS
    What one traced call costs the traced program: ns per call of a tiny leaf function,
    untraced, under a minimal BPF counter (the floor), under bpftrace, and under Utrace.

.DESCRIPTION
    Generates a C program whose main calls `leaf(int)` (noinline, noipa) N times in a loop and
    times only that loop, with clock_gettime(CLOCK_MONOTONIC) (wall) and
    CLOCK_PROCESS_CPUTIME_ID (the CPU time charged to the program, which includes the kernel's
    uprobe handling). It writes "wall_ns cpu_ns calls result" to the file named by argv[2],
    not to stdout: a program launched by Start-UTrace shares pwsh's stdout. So launching,
    attaching and detaching are outside the figures.

    The program is compiled with gcc -O2 -fno-omit-frame-pointer -fcf-protection=none; leaf's
    body references its frame address, because gcc 12 sets up no frame in a leaf function
    that needs none even with -fno-omit-frame-pointer. The script checks with objdump that
    leaf's first instruction is `push %rbp`, one the kernel emulates: a first instruction the
    kernel must single-step costs ~10x more per probe hit here (see
    /work/shared/platform-facts.md), and would hide what the tracer itself costs.

    Configurations, all on the same binary, interleaved within each round (the order rotates
    from round to round):
      untraced        the program alone
      floor-ring      the floor, plus a 48-byte ring-buffer record per return (Utrace's size),
                      the reader woken per 64 KiB as Utrace's; the loader reads and counts
                      them (must equal N): the bare ring buffer, what delivering costs.
      utrace-outfile  Start-UTrace -Function leaf -AsJob -OutFile: EventsSent, EventsRecorded
                      and the calls Measure-UTrace -Path counts in the file must equal N, 0 dropped.
      utrace-outnull  Start-UTrace -Function leaf | Out-Null in the foreground: delivered must
                      equal N, 0 dropped.
      floor           bench/overhead-floor.c + overhead-floor.bpf.c: a libbpf loader that
                      launches the program paused (a forked child waits on a pipe before
                      exec), attaches entry and return multi-uprobe links filtered on its pid,
                      whose programs only increment a per-CPU array, then releases it.
                      Entries and returns must both equal N.
      floor-ring      the floor loader with --ring: the return program also sends a record
                      per call on a ring buffer, which the loader reads. Returns and records
                      received must equal N.
      floor-session   the floor loader with --session: one uprobe session program (Linux
                      6.13) on one link counts entries and returns; both must equal N.
      floor-emulated  -Variant Moved and Nop only: the floor with both probes on leaf's second
                      instruction (a push, which the kernel emulates), given to the loader as a
                      file offset: the emulated floor of the same function in the same run.
                      With Moved, Utrace's probe goes there too (Get-UTraceFunction must say
                      so); with Nop, Utrace probes the nop, which the kernel turns into a call.
      bpftrace        bpftrace -e 'uprobe:BIN:leaf { @c = count(); } uretprobe:BIN:leaf
                      { @r = count(); }' -c 'BIN N FILE' (bpftrace 0.17 attaches two
                      system-wide perf-event uprobes, not multi links); @c and @r must equal
                      N. Only when bpftrace is on PATH and -SkipBpftrace is not given.
      uftrace         uftrace record -P leaf (uftrace 0.13 patches leaf's entry in the
                      process, no kernel trap); uftrace report must count N calls. Only when
                      uftrace is on PATH and -SkipUftrace is not given.
      utrace-job      Start-UTrace -Function leaf -AsJob, Wait-Job, then Receive-Job -Keep
                      counted, which must equal N, as must EventsSent and EventsDelivered.
                      (-Keep because a plain Receive-Job of 1M events takes over a minute:
                      PowerShell's PSDataCollection.ReadAndRemove does List.RemoveAt(0) per
                      item. The traced program had exited long before either.)
      utrace-measure  Start-UTrace -Function leaf | Measure-Object in the foreground:
                      the count must equal N.
      utrace-min1ms   Start-UTrace -Function leaf -MinDuration 1ms -AsJob: every call is
                      filtered in the kernel. EventsFiltered + EventsSent must equal N; a call
                      that was preempted for a scheduler tick really lasts over 1 ms and is
                      sent, so EventsSent is reported, normally 0.
      utrace-retinsn  as utrace-job, with -ReturnMode RetInstruction: a probe on leaf's ret
                      instruction instead of a uretprobe (the kernel single-steps it).
      utrace-entryonly as utrace-job, with -ReturnMode EntryOnly: no return probe at all.
      utrace-summary  Start-UTrace -Function leaf -Summary: calls aggregated in BPF maps; the
                      summary's Calls of leaf must equal N.
      utrace-capture  as utrace-job, with -Capture @{ leaf = 'int -> int' }: the argument and the
                      return value of every call; the first and last events must have
                      Arguments 0 and N-1, ReturnValue 1 and N.
      utrace-capture-string
                      the program calls leaf_string(int, const char *) instead (argv[4]
                      "string"), traced with -Capture @{ leaf_string = 'int, string -> int' }:
                      the entry runs in a sleepable program and reads the 14-byte string;
                      first and last events are checked as above, with the string.
      utrace-threadid as utrace-job, with -ThreadId 1 (a thread of another process): every call
                      is dropped at entry; 0 events, 0 sent, 0 filtered.
      <utrace-config>-pair, <utrace-config>-session
                      any utrace- configuration with -AttachMode MultiLink (an entry and a
                      return link, the pair) or -AttachMode Session (one uprobe session link),
                      to compare the two in one run; Auto takes sessions only for traces that
                      drop calls at entry (-ThreadId, -MaxDepth). utrace-job-session and
                      utrace-threadid-pair run by default.
      utrace-where    Start-UTrace -Function leaf | Where-Object Duration -gt 1ms in the
                      foreground (PowerShell's slowest common filter): delivered + dropped
                      must equal N, and EventsDropped tells whether the pipeline fell so far
                      behind that the ring buffer filled.
    For foreground traces, the TraceSummary counts are read from Start-UTrace's -Verbose
    message (a foreground trace hands no summary object back).

    A round fails, loudly and outside the statistics, when a check above fails, the timing
    file is missing or malformed, or the program did not exit 0; the script then exits 1.

    Results: ns per call (wall time of the loop / N), median of -Rounds rounds with min and
    max, the cost above untraced, the ratio to the floor, and the CPU time per call; to the
    console and to -OutFile as Markdown. This is a benchmark: no timing is asserted.

    Before the measured rounds, one untimed round with 10,000 calls warms up the JIT of the
    Utrace configurations. The built module is copied to a temp dir first, so a rebuild of
    bin/ during the run cannot change what is measured. The default run takes about a minute
    on the reference machine.

.EXAMPLE
    sudo pwsh bench/overhead.ps1

.EXAMPLE
    pwsh bench/overhead.ps1 -Calls 200000 -Rounds 3 -OutFile /tmp/overhead.md

.EXAMPLE
    pwsh bench/overhead.ps1 -Variant SingleStepped -Calls 200000 -OutFile /tmp/sstep.md

.EXAMPLE
    pwsh bench/overhead.ps1 -Variant Moved -Configuration untraced, floor, floor-emulated, utrace-job -Rounds 3

.EXAMPLE
    pwsh bench/overhead.ps1 -Threads 2 -Configuration floor-ring, utrace-outfile, utrace-outnull
#>
[CmdletBinding()]
param(
    # Calls of leaf per run (the program's argv[1]).
    [ValidateRange(1000, 100000000)]
    [int] $Calls = 1000000,

    [ValidateRange(1, 100)]
    [int] $Rounds = 5,

    [switch] $SkipBpftrace,

    # Emulated: leaf starts with push %rbp, which the kernel emulates. SingleStepped: with lea,
    # which the kernel must single-step (about 10x the cost of a probe hit here). Moved: with a mov
    # the kernel single-steps and then a push, onto which Utrace moves its probe. Nop: built with
    # gcc -pg -mfentry -mnop-mcount -no-pie, so leaf starts with a 5-byte nop, which the kernel
    # (6.18+) turns into a call to its trampoline after the first hit.
    [Alias('FirstInstruction')]
    [ValidateSet('Emulated', 'SingleStepped', 'Moved', 'Nop')]
    [string] $Variant = 'Emulated',

    # Threads of the program, each making -Calls calls: throughput with several traced threads.
    [ValidateRange(1, 16)]
    [int] $Threads = 1,

    # Only these configurations (the names in the results), in this order; default: all.
    [string[]] $Configuration,

    [switch] $SkipUftrace,

    [string] $OutFile = (Join-Path $PSScriptRoot 'results/overhead.md'),

    [switch] $KeepTemp
)

# Also sets strict mode, ErrorActionPreference Stop and no progress bars for this script.
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

# --- preconditions ---------------------------------------------------------------------------
Assert-BenchHost -Tool 'gcc', 'clang', 'objdump' -Packages 'gcc clang binutils'
$libbpfHeader = '/usr/include/bpf/libbpf.h'
if (-not (Test-Path $libbpfHeader) -or -not (Select-String -Path $libbpfHeader -Pattern 'bpf_program__attach_uprobe_multi' -Quiet)) {
    throw 'The floor needs libbpf-dev >= 1.3 (bpf_program__attach_uprobe_multi); on Debian 12 from bookworm-backports (scripts/setup.sh installs it).'
}
$bpftrace = if ($SkipBpftrace) { $null } else { Get-Command bpftrace -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 }
$uftrace = if ($SkipUftrace) { $null } else { Get-Command uftrace -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 }
$temp = New-BenchWorkspace -Prefix 'utrace-overhead'

# --- build -----------------------------------------------------------------------------------
$leafSource = @'
/* Generated by bench/overhead.ps1. usage: leaf N OUTFILE [THREADS [string]] (each thread makes N calls) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "leaf.h"    /* leaf() and ns(), shared with bench/throughput.ps1 */

/* The same, with a string argument to capture (argv[4] "string"). */
__attribute__((noinline, noipa)) int leaf_string(int x, const char *s)
{
    __asm__ volatile("" : : "r"(__builtin_frame_address(0)));
    return x + (s[0] != 0);
}

static long n;
static int strings;

static void *run(void *result)
{
    int acc = 0;
    for (long i = 0; i < n; i++)      /* each call depends on the previous one */
        acc = strings ? leaf_string(acc, "hello, capture") : leaf(acc);
    *(int *)result = acc;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fputs("usage: leaf N OUTFILE [THREADS [string]]\n", stderr); return 2; }
    n = strtol(argv[1], NULL, 10);
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    strings = argc > 4;
    if (threads < 1 || threads > 16) { fputs("THREADS: 1 to 16\n", stderr); return 2; }
    pthread_t t[16];
    int acc[16];
    long total = 0;
    long long wall = ns(CLOCK_MONOTONIC), cpu = ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 1; i < threads; i++)
        pthread_create(&t[i], NULL, run, &acc[i]);
    run(&acc[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    cpu = ns(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    wall = ns(CLOCK_MONOTONIC) - wall;
    for (int i = 0; i < threads; i++)
        total += acc[i];
    /* Not stdout: a program launched by Start-UTrace shares pwsh's stdout. */
    FILE *out = fopen(argv[2], "w");
    if (!out) { perror(argv[2]); return 3; }
    fprintf(out, "%lld %lld %ld %ld\n", wall, cpu, n * threads, total);
    return fclose(out) == 0 && total == n * threads ? 0 : 4;
}
'@
$leafFlags = @('-O2', '-fno-omit-frame-pointer', '-fcf-protection=none', '-pthread')
$firstPattern = ':\s*push\s+%rbp\b'
$linkFlags = @()
$nopPattern = ':\s*nopl\s+0x0\(%rax,%rax,1\)'
switch ($Variant) {
    'SingleStepped' { $leafFlags += '-DSINGLE_STEP'; $firstPattern = ':\s*lea\s+0x1000\(' }
    'Moved' { $leafFlags += '-DMOVED_PROBE'; $firstPattern = ':\s*mov\s+%edi,%eax' }
    # Compiled, not linked, with -pg: linked with it, the program would write gmon.out where it runs.
    'Nop' { $leafFlags += '-pg', '-mfentry', '-mnop-mcount', '-fno-pie'; $linkFlags = @('-no-pie'); $firstPattern = $nopPattern }
}
$leafC = Join-Path $temp 'leaf.c'
$leaf = Join-Path $temp 'leaf'
[IO.File]::WriteAllText($leafC, $leafSource)
& gcc @leafFlags "-I$PSScriptRoot" -c -o "$leaf.o" $leafC
if ($LASTEXITCODE -ne 0) { throw "gcc failed on $leafC" }
& gcc -pthread @linkFlags -o $leaf "$leaf.o"
if ($LASTEXITCODE -ne 0) { throw "gcc failed to link $leaf.o" }

# leaf's first instructions, from objdump: the first must be push (emulated by the kernel), or for
# SingleStepped lea (which the kernel single-steps), for Moved mov, for Nop the 5-byte nop.
$disassembly = @(& objdump -d --no-show-raw-insn "--disassemble=leaf" $leaf)
if ($LASTEXITCODE -ne 0) { throw "objdump failed on $leaf" }
$start = [array]::FindIndex([string[]] $disassembly, [Predicate[string]] { param($l) $l -match '<leaf>:$' })
if ($start -lt 0) { throw "objdump shows no leaf in $leaf" }
$leafInstructions = @($disassembly[($start + 1)..($disassembly.Count - 1)] |
        Where-Object { $_ -match '^\s+[0-9a-f]+:\s' } |
        ForEach-Object { ($_ -replace '^\s+', '') -replace '\s+', ' ' })
if ($leafInstructions.Count -eq 0 -or $leafInstructions[0] -notmatch $firstPattern) {
    throw "leaf's first instruction is not the one the $Variant variant needs: $($leafInstructions -join ' | ')"
}
$stringFirst = @(& objdump -d --no-show-raw-insn "--disassemble=leaf_string" $leaf) | Where-Object { $_ -match '^\s+[0-9a-f]+:\s' } | Select-Object -First 1
$stringPattern = if ($Variant -eq 'Nop') { $nopPattern } else { ':\s*push\s+%rbp\b' }
if ($stringFirst -notmatch $stringPattern) { throw "leaf_string's first instruction is not the one the $Variant variant needs: $stringFirst" }

# Moved and Nop: the file offset of leaf's second instruction, a push, for the emulated floor; and where
# Utrace puts its probe, which must be that push (Moved) or the nop (Nop).
$emulatedOffset = $null
if ($Variant -in 'Moved', 'Nop') {
    $addresses = $leafInstructions[0, 1] | ForEach-Object { [Convert]::ToUInt64(($_ -split ':')[0], 16) }
    if ($leafInstructions[1] -notmatch ':\s*push\s+%rbp\b') { throw "leaf's second instruction is not push %rbp: $($leafInstructions[1])" }
    $placed = Get-UTraceFunction $leaf -Function leaf
    $expected = if ($Variant -eq 'Moved') { 'Moved', ($addresses[1] - $addresses[0]) } else { 'OptimizedNop', 0 }
    if ("$($placed.EntryProbe)" -ne $expected[0] -or $placed.EntryProbeOffset -ne $expected[1]) {
        throw "Utrace places leaf's probe as $($placed.EntryProbe) at +$($placed.EntryProbeOffset), expected $($expected[0]) at +$($expected[1])"
    }
    $emulatedOffset = '0x{0:x}' -f ($placed.Offset + $addresses[1] - $addresses[0])
}

# The floor: BPF object (clang) and libbpf loader (gcc).
$floorBuild = Build-BenchFloor $temp
$floorObject = $floorBuild.Object
$floor = $floorBuild.Loader

# --- one run of one configuration ------------------------------------------------------------
function Read-Timing([string] $Path, [int] $N, $Problems) {
    if (-not (Test-Path $Path)) { $Problems.Add('the program wrote no timing file'); return $null }
    $fields = (Get-Content $Path -Raw).Trim() -split '\s+'
    if ($fields.Count -ne 4) { $Problems.Add("malformed timing file: '$($fields -join ' ')'"); return $null }
    if ([long]$fields[2] -ne $N -or [long]$fields[3] -ne $N) { $Problems.Add("the program made $($fields[2]) calls with result $($fields[3]), expected $N") }
    [pscustomobject]@{ WallNs = [double]$fields[0]; CpuNs = [double]$fields[1] }
}

# Counts from the -Verbose message a foreground Start-UTrace writes when its trace ends.
function Read-VerboseSummary($Records, $Problems) {
    $text = @($Records | Where-Object { $_ -is [Management.Automation.VerboseRecord] } | ForEach-Object Message)
    $line = $text | Where-Object { $_ -match 'events delivered' } | Select-Object -Last 1
    if ($line -notmatch 'Trace \d+ (\w+): (\d+) events delivered, (?:\d+ recorded, )?(\d+) dropped, (\d+) filtered in the kernel') {
        $Problems.Add("no trace summary in Start-UTrace's verbose output: $($text -join ' / ')")
        return $null
    }
    [pscustomobject]@{ State = $Matches[1]; Delivered = [long]$Matches[2]; Dropped = [long]$Matches[3]; Filtered = [long]$Matches[4] }
}

function Invoke-Config([string] $Config, [int] $N, [int] $Round) {
    $name = $Config
    $attachMode = @{ pair = 'MultiLink'; session = 'Session' }[($Config -split '-')[-1]]
    if ($Config -like 'utrace-*' -and $attachMode) {
        # Only in this function's scope: every Start-UTrace below attaches that way.
        $PSDefaultParameterValues = @{ 'Start-UTrace:AttachMode' = $attachMode }
        $Config = $Config -replace '-(pair|session)$'
    }
    # $N calls by each of $Threads threads; everything below checks the total.
    $perThread = $N
    $N = $N * $Threads
    $problems = [Collections.Generic.List[string]]::new()
    $file = Join-Path $temp "time-$name-$Round.txt"
    Remove-Item $file -ErrorAction SilentlyContinue
    $sent = $null; $filtered = $null; $delivered = $null; $dropped = $null; $received = $null; $detail = ''
    [GC]::Collect()
    $clock = [Diagnostics.Stopwatch]::StartNew()
    switch ($Config) {
        'untraced' {
            & $leaf $perThread $file $Threads
            if ($LASTEXITCODE -ne 0) { $problems.Add("exit code $LASTEXITCODE") }
        }
        { $_ -in 'floor', 'floor-ring', 'floor-session', 'floor-emulated' } {
            $ring = $Config -eq 'floor-ring'
            $option = @{ 'floor' = @(); 'floor-ring' = @('--ring'); 'floor-session' = @('--session'); 'floor-emulated' = @() }[$Config]
            $target = if ($Config -eq 'floor-emulated') { $emulatedOffset } else { 'leaf' }
            $out = @(& $floor @option $floorObject $target $leaf $perThread $file $Threads 2>&1)
            $line = "$($out | Where-Object { "$_" -match '^entries ' } | Select-Object -Last 1)"
            if ($LASTEXITCODE -ne 0 -or $line -notmatch '^entries (\d+) returns (\d+) exit (\d+)(?: records (\d+))?') {
                $problems.Add("the floor loader failed (exit $LASTEXITCODE): $($out -join ' / ')")
            }
            else {
                $detail = "entries $($Matches[1]), returns $($Matches[2])"
                if ([long]$Matches[1] -ne $N -or [long]$Matches[2] -ne $N) { $problems.Add("the floor counted $detail, expected $N each") }
                if ($Matches[3] -ne '0') { $problems.Add("exit code $($Matches[3])") }
                if ($ring) {
                    $received = [long]$Matches[4]
                    if ($received -ne $N) { $problems.Add("the loader read $received records, expected $N") }
                }
            }
        }
        'uftrace' {
            $data = Join-Path $temp "uftrace-$Round.data"
            Remove-Item $data -Recurse -ErrorAction SilentlyContinue
            $out = @(& $uftrace.Source record -P leaf -d $data $leaf $perThread $file $Threads 2>&1)
            if ($LASTEXITCODE -ne 0) { $problems.Add("uftrace record failed (exit $LASTEXITCODE): $($out -join ' / ')") }
            $report = @(& $uftrace.Source report -d $data -F leaf 2>&1 | Where-Object { "$_" -match '\sleaf\s*$' })
            $received = if ($report -and "$($report[0])" -match '(\d+)\s+leaf\s*$') { [long]$Matches[1] } else { 0 }
            $detail = "uftrace report: $received calls of leaf"
            if ($received -ne $N) { $problems.Add("uftrace recorded $received calls of leaf, expected $N") }
            Remove-Item $data -Recurse -ErrorAction SilentlyContinue
        }
        'bpftrace' {
            $script = "uprobe:${leaf}:leaf { @c = count(); } uretprobe:${leaf}:leaf { @r = count(); }"
            $errFile = Join-Path $temp 'bpftrace.err'
            $out = @(& $bpftrace.Source -e $script -c "$leaf $perThread $file $Threads" 2>$errFile)
            $c = "$($out | Where-Object { "$_" -match '^@c: ' })" -replace '^@c: ', ''
            $r = "$($out | Where-Object { "$_" -match '^@r: ' })" -replace '^@r: ', ''
            $detail = "@c $c, @r $r"
            if ($c -ne "$N" -or $r -ne "$N") {
                $problems.Add("bpftrace counted $detail, expected $N each (exit $LASTEXITCODE): $((Get-Content $errFile -ErrorAction SilentlyContinue) -join ' / ')")
            }
        }
        'utrace-summary' {
            $rows = @(Start-UTrace -Command $leaf -ArgumentList "$perThread", $file, "$Threads" -Function leaf -Summary)
            if ($global:LASTEXITCODE -ne 0) { $problems.Add("exit code $global:LASTEXITCODE") }
            $received = ($rows | Where-Object Function -EQ 'leaf').Calls
            if ($received -ne $N) { $problems.Add("the summary counted $received calls of leaf, expected $N") }
        }
        { $_ -in 'utrace-job', 'utrace-min1ms', 'utrace-threadid', 'utrace-retinsn', 'utrace-entryonly', 'utrace-capture', 'utrace-capture-string' } {
            $function = 'leaf'
            $arguments = @("$perThread", $file, "$Threads")
            $extra = switch ($Config) {
                'utrace-min1ms' { @{ MinDuration = '1ms' } }
                'utrace-threadid' { @{ ThreadId = 1 } }
                'utrace-retinsn' { @{ ReturnMode = 'RetInstruction' } }
                'utrace-entryonly' { @{ ReturnMode = 'EntryOnly' } }
                'utrace-capture' { @{ Capture = @{ leaf = 'int -> int' } } }
                'utrace-capture-string' { @{ Capture = @{ leaf_string = 'int, string -> int' } } }
                default { @{} }
            }
            if ($Config -eq 'utrace-capture-string') { $function = 'leaf_string'; $arguments += 'string' }
            $job = Start-UTrace -Command $leaf -ArgumentList $arguments -Function $function -AsJob @extra
            try {
                if (-not (Wait-Job $job -Timeout 120)) {
                    $problems.Add('the trace did not end within 120 s; stopped it')
                    $null = Stop-UTrace $job
                }
                $received = 0
                $first = $last = $null
                foreach ($e in Receive-Job $job -Keep -ErrorAction SilentlyContinue -WarningAction SilentlyContinue) {
                    if ($received++ -eq 0) { $first = $e }
                    $last = $e
                }
                if ($Config -like 'utrace-capture*') {
                    $shown = { param($e) if ($e) { "$($e.Arguments.ToString()) -> $($e.ReturnValue)" } }
                    $text = if ($Config -eq 'utrace-capture') { '' } else { ', "hello, capture"' }
                    # Each thread counts from 0: the last call completed is the last of some thread.
                    $want = "0$text -> 1", "$($perThread - 1)$text -> $perThread"
                    if ((& $shown $first) -ne $want[0] -or (& $shown $last) -ne $want[1]) {
                        $problems.Add("captured '$(& $shown $first)' and '$(& $shown $last)', expected '$($want[0])' and '$($want[1])'")
                    }
                }
                $s = $job.Summary
            }
            finally { Remove-Job $job -Force -ErrorAction SilentlyContinue }
            $sent = $s.EventsSent; $filtered = $s.EventsFiltered; $delivered = $s.EventsDelivered; $dropped = $s.EventsDropped
            $detail = "$($s.AttachMode), $($s.LinkCount) link(s)"
            if ($Config -ne $name -and "$($s.AttachMode)" -ne $attachMode) { $problems.Add("AttachMode $($s.AttachMode), expected $attachMode") }
            if ("$($s.State)" -ne 'Completed' -or $s.ExitCode -ne 0) { $problems.Add("state $($s.State), exit code $($s.ExitCode)") }
            if ($s.FunctionCount -ne 1) { $problems.Add("FunctionCount $($s.FunctionCount), expected 1") }
            if ($dropped -ne 0) { $problems.Add("EventsDropped $dropped") }
            if ($delivered -ne $sent -or $received -ne $delivered) { $problems.Add("EventsSent $sent, EventsDelivered $delivered, Receive-Job ${received}: they must agree") }
            if ($Config -eq 'utrace-threadid') {
                if ($received -ne 0 -or $sent -ne 0 -or $filtered -ne 0) { $problems.Add("Receive-Job $received, EventsSent $sent, EventsFiltered $filtered; expected 0 each") }
            }
            elseif ($Config -ne 'utrace-min1ms') {
                if ($received -ne $N) { $problems.Add("Receive-Job returned $received events, expected $N") }
                if ($sent -ne $N -or $filtered -ne 0) { $problems.Add("EventsSent $sent, EventsFiltered $filtered; expected $N and 0") }
            }
            elseif ($filtered + $sent -ne $N) { $problems.Add("EventsFiltered $filtered + EventsSent $sent, expected $N") }
        }
        'utrace-outfile' {
            $traceFile = Join-Path $temp "trace-$Round.utrace"
            $job = Start-UTrace -Command $leaf -ArgumentList "$perThread", $file, "$Threads" -Function leaf -AsJob -OutFile $traceFile
            try {
                if (-not (Wait-Job $job -Timeout 120)) {
                    $problems.Add('the trace did not end within 120 s; stopped it')
                    $null = Stop-UTrace $job
                }
                $s = $job.Summary
            }
            finally { Remove-Job $job -Force -ErrorAction SilentlyContinue }
            $sent = $s.EventsSent; $filtered = $s.EventsFiltered; $delivered = $s.EventsRecorded; $dropped = $s.EventsDropped
            $received = (Measure-UTrace -Path $traceFile | Where-Object Function -EQ 'leaf').Calls
            Remove-Item $traceFile -ErrorAction SilentlyContinue
            if ("$($s.State)" -ne 'Completed' -or $s.ExitCode -ne 0) { $problems.Add("state $($s.State), exit code $($s.ExitCode)") }
            if ($sent -ne $N -or $dropped -ne 0 -or $delivered -ne $N -or $received -ne $N) {
                $problems.Add("EventsSent $sent, EventsRecorded $delivered, EventsDropped $dropped, calls in the file $received; expected $N, $N, 0, $N")
            }
        }
        'utrace-outnull' {
            $global:LASTEXITCODE = -1
            $records = & { Start-UTrace -Command $leaf -ArgumentList "$perThread", $file, "$Threads" -Function leaf -Verbose | Out-Null } 4>&1 3>&1
            $exitCode = $global:LASTEXITCODE
            $s = Read-VerboseSummary $records $problems
            if ($exitCode -ne 0) { $problems.Add("exit code $exitCode") }
            if ($s) {
                $delivered = $s.Delivered; $dropped = $s.Dropped; $filtered = $s.Filtered
                if ($s.State -ne 'completed') { $problems.Add("trace $($s.State)") }
                if ($delivered -ne $N -or $dropped -ne 0) { $problems.Add("delivered $delivered, dropped $dropped; expected $N and 0") }
            }
        }
        { $_ -in 'utrace-measure', 'utrace-where' } {
            $global:LASTEXITCODE = -1
            $records = if ($Config -eq 'utrace-measure') {
                & { Start-UTrace -Command $leaf -ArgumentList "$perThread", $file, "$Threads" -Function leaf -Verbose | Measure-Object } 4>&1 3>&1
            }
            else {
                & { Start-UTrace -Command $leaf -ArgumentList "$perThread", $file, "$Threads" -Function leaf -Verbose | Where-Object Duration -gt 1ms } 4>&1 3>&1
            }
            $exitCode = $global:LASTEXITCODE
            $events = @($records | Where-Object { $_ -is [Utrace.CallEvent] })
            $warnings = @($records | Where-Object { $_ -is [Management.Automation.WarningRecord] })
            $s = Read-VerboseSummary $records $problems
            if ($exitCode -ne 0) { $problems.Add("exit code $exitCode") }
            if ($warnings.Count) { $detail = "warnings: $(($warnings | ForEach-Object Message) -join ' / ')" }
            if ($s) {
                $delivered = $s.Delivered; $dropped = $s.Dropped; $filtered = $s.Filtered
                if ($s.State -ne 'completed') { $problems.Add("trace $($s.State)") }
                if ($filtered -ne 0) { $problems.Add("EventsFiltered $filtered, expected 0") }
                if ($delivered + $dropped -ne $N) { $problems.Add("delivered $delivered + dropped $dropped, expected $N") }
            }
            if ($Config -eq 'utrace-measure') {
                $received = @($records | Where-Object { $_ -is [Microsoft.PowerShell.Commands.GenericMeasureInfo] })[0].Count
                if ($received -ne $N) { $problems.Add("Measure-Object counted $received events, expected $N") }
                if ($s -and $dropped -ne 0) { $problems.Add("EventsDropped $dropped") }
            }
            else {
                $received = $events.Count
                $short = @($events | Where-Object { $_.DurationNs -le 1000000 }).Count
                if ($short) { $problems.Add("Where-Object Duration -gt 1ms let $short shorter calls through") }
            }
        }
        default { throw "unknown configuration $Config" }
    }
    $runMs = $clock.Elapsed.TotalMilliseconds
    $timing = Read-Timing $file $N $problems
    [pscustomobject]@{
        Config    = $name
        Round     = $Round
        Ok        = $problems.Count -eq 0
        Problems  = $problems -join '; '
        NsPerCall = if ($timing) { $timing.WallNs / $N } else { $null }
        CpuPerCall = if ($timing) { $timing.CpuNs / $N } else { $null }
        RunMs     = $runMs
        Sent      = $sent
        Filtered  = $filtered
        Delivered = $delivered
        Dropped   = $dropped
        Received  = $received
        Detail    = $detail
    }
}

# --- run -------------------------------------------------------------------------------------
$configs = @('untraced', 'floor', 'floor-ring', 'floor-session')
if ($emulatedOffset) { $configs += 'floor-emulated' }
if ($bpftrace) { $configs += 'bpftrace' }
$configs += 'utrace-outfile', 'utrace-outnull', 'utrace-job', 'utrace-job-session', 'utrace-measure', 'utrace-min1ms', 'utrace-threadid', 'utrace-threadid-pair',
    'utrace-where', 'utrace-retinsn', 'utrace-entryonly', 'utrace-summary', 'utrace-capture', 'utrace-capture-string'
if ($uftrace) { $configs += 'uftrace' }
if ($Configuration) {
    # pwsh -File passes a comma-separated list as one string.
    $Configuration = @($Configuration -split ',' | ForEach-Object Trim | Where-Object { $_ })
    $plain = @($configs | Where-Object { $_ -like 'utrace-*' -and $_ -notmatch '-(pair|session)$' })
    $known = @($configs + @($plain | ForEach-Object { "$_-pair", "$_-session" }) | Sort-Object -Unique)
    $unknown = @($Configuration | Where-Object { $_ -notin $known })
    if ($unknown) { throw "Unknown configuration(s): $($unknown -join ', '); known: $($known -join ', ')" }
    $configs = $Configuration
}

$startedAt = Get-Date
$loadBefore = Get-LoadAverage
$results = [Collections.Generic.List[object]]::new()
try {
    Write-Information "leaf: $($leafInstructions[0])  (objdump; gcc $($leafFlags -join ' '))" -InformationAction Continue
    Write-Information 'Warm-up (10,000 calls per configuration, not recorded) ...' -InformationAction Continue
    foreach ($config in $configs) {
        $warm = Invoke-Config $config 10000 0
        if (-not $warm.Ok) { Write-Warning "Warm-up $config failed: $($warm.Problems)" }
    }
    for ($r = 1; $r -le $Rounds; $r++) {
        # Rotate the order, so no configuration always runs right after the same other one.
        $order = for ($i = 0; $i -lt $configs.Count; $i++) { $configs[($i + $r - 1) % $configs.Count] }
        foreach ($config in $order) {
            $res = Invoke-Config $config $Calls $r
            $results.Add($res)
            $line = 'round {0} {1,-15} {2,10} ns/call (cpu {3,10}) run {4,8:N0} ms {5}' -f $r, $config,
                $(if ($null -ne $res.NsPerCall) { Format-Figure $res.NsPerCall } else { '-' }),
                $(if ($null -ne $res.CpuPerCall) { Format-Figure $res.CpuPerCall } else { '-' }), $res.RunMs,
                $(if ($null -ne $res.Sent) { "sent $($res.Sent) filtered $($res.Filtered) dropped $($res.Dropped)" } elseif ($null -ne $res.Delivered) { "delivered $($res.Delivered) filtered $($res.Filtered) dropped $($res.Dropped)" } else { $res.Detail })
            Write-RoundLine $line $res
        }
    }
}
finally { Remove-BenchWorkspace $temp -Keep:$KeepTemp }

# --- report ----------------------------------------------------------------------------------
$failed = @($results | Where-Object { -not $_.Ok })
$bpftraceVersion = if ($bpftrace) { (& $bpftrace.Source --version) -join ' ' } else { 'bpftrace not run' }
$bpftraceVersion += if ($uftrace) { '; ' + "$(& $uftrace.Source --version)" -replace '\s*\(.*$' } else { '; uftrace not run' }

$describe = [ordered]@{
    'untraced'       = 'untraced'
    'floor'          = 'floor: BPF counter, entry + return multi-uprobe links (libbpf loader)'
    'floor-ring'     = 'bare ring buffer: the floor + a 48-byte record per return, read by the loader'
    'floor-session'  = 'floor as a uprobe session: one counting program on one link (Linux 6.13)'
    'floor-emulated' = 'emulated floor: the floor with its probes on leaf''s second instruction (push)'
    'utrace-outfile' = 'Utrace `-OutFile -AsJob` (every call recorded to a trace file)'
    'utrace-outnull' = 'Utrace `\| Out-Null`'
    'bpftrace'       = 'bpftrace `count()` on uprobe + uretprobe (perf-event uprobes)'
    'uftrace'        = 'uftrace `record -P leaf` (patched in the process, no kernel trap)'
    'utrace-job'     = 'Utrace `-AsJob` (job collects every event)'
    'utrace-measure' = 'Utrace `\| Measure-Object`'
    'utrace-min1ms'  = 'Utrace `-MinDuration 1ms -AsJob` (all filtered in the kernel)'
    'utrace-threadid' = 'Utrace `-ThreadId 1 -AsJob` (another process''s thread: every call dropped at entry)'
    'utrace-where'   = 'Utrace `\| Where-Object Duration -gt 1ms`'
    'utrace-retinsn' = 'Utrace `-ReturnMode RetInstruction -AsJob` (probe on leaf''s `ret`, single-stepped)'
    'utrace-entryonly' = 'Utrace `-ReturnMode EntryOnly -AsJob` (entry probe only)'
    'utrace-summary' = 'Utrace `-Summary` (aggregated per function in the kernel, no ring buffer)'
    'utrace-capture' = 'Utrace `-Capture @{ leaf = ''int -> int'' } -AsJob` (argument and return value of every call)'
    'utrace-capture-string' = 'Utrace `-Capture @{ leaf_string = ''int, string -> int'' } -AsJob` (sleepable entry, reads a 14-byte string)'
}
foreach ($config in @($configs | Where-Object { $_ -match '^utrace-.*-(pair|session)$' })) {
    $how = if ($config -like '*-pair') { 'on an entry + a return link (`-AttachMode MultiLink`)' } else { 'on one session link (`-AttachMode Session`)' }
    $describe[$config] = "$($describe[$config -replace '-(pair|session)$']), $how"
}
$stats = @{}
foreach ($config in $configs) {
    $ok = @($results | Where-Object { $_.Config -eq $config -and $_.Ok })
    if ($ok.Count) {
        $stats[$config] = [pscustomobject]@{
            Wall = Get-Statistic ($ok | ForEach-Object NsPerCall)
            Cpu  = Get-Statistic ($ok | ForEach-Object CpuPerCall)
            Ok   = $ok.Count
            All  = @($results | Where-Object Config -eq $config).Count
        }
    }
}
$base = if ($stats['untraced']) { $stats['untraced'].Wall.Median } else { $null }
$floorMedian = if ($stats['floor']) { $stats['floor'].Wall.Median } else { $null }

$md = ConvertTo-ResultMarkdown -Title 'Overhead' -StartedAt $startedAt -LoadBefore $loadBefore -Tools $bpftraceVersion
$null = $md.AppendLine("- Program: ``leaf(int)`` called $('{0:N0}' -f $Calls) times in a loop by each of $Threads thread(s); gcc $($leafFlags + $linkFlags -join ' '); only the loop is timed (CLOCK_MONOTONIC). Rounds: $Rounds, configurations interleaved, order rotated per round; one untimed warm-up run of each first.")
$first = @{
    Emulated      = '`push`, emulated by the kernel'
    SingleStepped = '`lea`, single-stepped by the kernel'
    Moved         = '`mov`, single-stepped by the kernel, then `push`, where Utrace moves its probe'
    Nop           = 'a 5-byte `nop`, which the kernel turns into a call'
}[$Variant]
$null = $md.AppendLine("- ``leaf`` as objdump shows it ($Variant variant: first instruction $first):").AppendLine()
$null = $md.AppendLine('```')
foreach ($insn in $leafInstructions) { $null = $md.AppendLine($insn) }
$null = $md.AppendLine('```').AppendLine()
$null = $md.AppendLine('ns per call = wall time of the loop (all threads) / calls: median (min–max) over the successful rounds. Above untraced = median − untraced median. x floor = median / floor median. Above floor = what the tracer costs beyond the least any BPF tracer pays. CPU = the program''s CPU time per call (CLOCK_PROCESS_CPUTIME_ID, over the loop), which includes the kernel''s uprobe handling; wall above CPU is time the program waited for a CPU.').AppendLine()
$null = $md.AppendLine('| Configuration | Rounds | ns/call | above untraced | x floor | above floor | CPU ns/call |')
$null = $md.AppendLine('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
foreach ($config in $configs) {
    $st = $stats[$config]
    $roundsText = if ($st -and $st.Ok -eq $st.All) { "$($st.Ok)" } elseif ($st) { "$($st.Ok) of $($st.All)" } else { "0 of $(@($results | Where-Object Config -eq $config).Count)" }
    if (-not $st) { $null = $md.AppendLine("| $($describe[$config]) | $roundsText | all rounds FAILED | | | | |"); continue }
    $m = $st.Wall.Median
    $null = $md.AppendLine(('| {0} | {1} | {2} ({3}–{4}) | {5} | {6} | {7} | {8} |' -f
            $describe[$config], $roundsText, (Format-Figure $m), (Format-Figure $st.Wall.Min), (Format-Figure $st.Wall.Max),
            $(if ($null -ne $base -and $config -ne 'untraced') { Format-Figure ($m - $base) } else { '–' }),
            $(if ($floorMedian -and $config -ne 'untraced') { '{0:N2}' -f ($m / $floorMedian) } else { '–' }),
            $(if ($floorMedian -and $config -notin 'untraced', 'floor') { Format-Figure ($m - $floorMedian) } else { '–' }),
            (Format-Figure $st.Cpu.Median)))
}
Add-FailedRound $md @($failed | ForEach-Object { "$($_.Config) round $($_.Round): $($_.Problems)" })
$null = $md.AppendLine().AppendLine('## Every round').AppendLine()
$null = $md.AppendLine('Run ms = the whole command, launch to exit (Start-UTrace to the job''s end, with attach and detach). Kernel counts: sent / filtered / delivered / dropped from the TraceSummary (foreground traces: from the -Verbose summary, which has no sent count); received = what the consumer counted.').AppendLine()
$null = $md.AppendLine('| Round | Configuration | Ok | ns/call | CPU ns/call | Run ms | Sent | Filtered | Delivered | Dropped | Received | Notes |')
$null = $md.AppendLine('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
foreach ($r in $results | Sort-Object Round, { [array]::IndexOf($configs, $_.Config) }) {
    $null = $md.AppendLine(('| {0} | {1} | {2} | {3} | {4} | {5:N0} | {6} | {7} | {8} | {9} | {10} | {11} |' -f
            $r.Round, $r.Config, $(if ($r.Ok) { 'yes' } else { 'FAILED' }),
            $(if ($null -ne $r.NsPerCall) { Format-Figure $r.NsPerCall } else { '' }),
            $(if ($null -ne $r.CpuPerCall) { Format-Figure $r.CpuPerCall } else { '' }),
            $r.RunMs, $r.Sent, $r.Filtered, $r.Delivered, $r.Dropped, $r.Received,
            (((@($r.Detail, $r.Problems) | Where-Object { $_ }) -join '; ') -replace '\|', '\|')))
}

Save-Result $md $OutFile $failed.Count
if ($failed.Count) { exit 1 }
