# Entry probes moved past a first instruction the kernel would single-step, onto one it emulates:
# where they really are (the int3 read back from the process's memory), and that counts, arguments
# and return values stay exact. The fixture's functions are assembly: every build has their bytes.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $variants = @(Get-FixtureVariant)
    $traced = $variants | Where-Object Variant -In 'gcc-O2-pie', 'clang-O0-nopie'
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:functions = 'moved_add', 'moved_endbr', 'stepped_sub', 'nop5_mul', 'loop_back'
    $script:specs = @{
        moved_add = 'long, long -> long'; moved_endbr = 'long, long, long -> long'; stepped_sub = 'long, long -> long'
        nop5_mul = 'long, long -> long'; loop_back = 'long -> long'
    }
    # What each function is called with, and returns, in round $i of the fixture.
    function Get-ExpectedCall([string] $Function, [long] $i) {
        switch ($Function) {
            moved_add { "$i,100 -> $($i + 100)" }
            moved_endbr { "$i,1000,7 -> $($i + 1007)" }
            stepped_sub { "$i,3 -> $($i - 3)" }
            nop5_mul { "$i,5 -> $($i * 5)" }
            loop_back { "$($i + 1) -> $($i + 1)" }
        }
    }
    # The byte at $FileOffset of $Path as process $ProcessId sees it: the oracle for where a probe is.
    function Read-LiveByte([int] $ProcessId, [string] $Path, [uint64] $FileOffset) {
        foreach ($line in [IO.File]::ReadLines("/proc/$ProcessId/maps")) {
            $fields = $line -split '\s+', 6
            if ($fields.Count -lt 6 -or $fields[5].Trim() -ne $Path) { continue }
            $start, $end = $fields[0] -split '-' | ForEach-Object { [Convert]::ToUInt64($_, 16) }
            $mapOffset = [Convert]::ToUInt64($fields[2], 16)
            if ($FileOffset -lt $mapOffset -or $FileOffset -ge $mapOffset + ($end - $start)) { continue }
            $memory = [IO.FileStream]::new("/proc/$ProcessId/mem", 'Open', 'Read')
            try {
                $memory.Seek([long]($start + $FileOffset - $mapOffset), 'Begin') | Out-Null
                return $memory.ReadByte()
            } finally { $memory.Dispose() }
        }
        throw "$Path offset $FileOffset is not mapped in process $ProcessId"
    }
    function Wait-Until([scriptblock] $Condition) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        while (-not (& $Condition)) {
            if ($clock.Elapsed.TotalSeconds -gt 10) { return $false }
            Start-Sleep -Milliseconds 20
        }
        $true
    }
}

Describe 'Get-UTraceFunction shows where each entry probe goes' {
    It 'moves it past a single-stepped first instruction only where that is safe (<Variant>)' -ForEach $variants {
        $listed = Get-UTraceFunction "$Dir/moved" -Function $functions
        ($listed | ForEach-Object { "$($_.Name) $($_.EntryProbe) $($_.EntryProbeOffset)" }) -join '; ' |
            Should -Be 'moved_add Moved 3; moved_endbr Moved 4; stepped_sub SingleStepped 0; nop5_mul OptimizedNop 0; loop_back SingleStepped 0'
    }
}

Describe 'Builds that start every function with a 5-byte nop' {
    BeforeAll {
        $dir = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "utrace-nop5-$PID") -Force
        $source = Join-Path $dir 'nop5.c'
        Set-Content -Path $source -Value @'
#include <stdio.h>
__attribute__((noinline)) int twice(int x) { return 2 * x; }
int main(int argc, char **argv) { (void)argv; printf("%d\n", twice(argc)); return 0; }
'@
    }
    AfterAll { Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue }

    It 'gcc -pg -mfentry -mnop-mcount: probes the nop (optimized), not the profiling start-up' {
        $program = Join-Path $dir 'nop5-gcc'
        & gcc -O2 -pg -mfentry -mnop-mcount -fno-pie -no-pie -o $program $source
        $LASTEXITCODE | Should -Be 0
        $listed = Get-UTraceFunction $program -Function twice, main, '*gmon*', '*mcount*', '*fentry*', '*monstartup', '_mcleanup' 3>$null
        ($listed | ForEach-Object { "$($_.Name) $($_.EntryProbe) $($_.EntryProbeOffset)" }) -join '; ' |
            Should -Be 'main OptimizedNop 0; twice OptimizedNop 0'
    }

    It 'gcc -pg -mfentry: the call of __fentry__ at every entry is not listed as a library call' {
        $program = Join-Path $dir 'fentry-gcc'
        & gcc -O2 -pg -mfentry -o $program $source
        $LASTEXITCODE | Should -Be 0
        (& nm -D $program) -join "`n" | Should -Match '\bU __fentry__' -Because 'the oracle: the program imports it'
        (Get-UTraceFunction $program).Name | Should -Not -Contain '__fentry__'
    }

    It 'clang -fpatchable-function-entry=5: probes its nopl 8(%rax,%rax,1) (optimized)' {
        $program = Join-Path $dir 'nop5-clang'
        & clang -O2 -fpatchable-function-entry=5 -o $program $source
        $LASTEXITCODE | Should -Be 0
        $twice = Get-UTraceFunction $program -Function twice
        [BitConverter]::ToString([IO.File]::ReadAllBytes($program), [int]$twice.Offset, 5) | Should -Be '0F-1F-44-00-08'
        "$($twice.EntryProbe) $($twice.EntryProbeOffset)" | Should -Be 'OptimizedNop 0'
    }
}

Describe 'Moved entry probes' -Skip:$noBpf {
    It 'count every call and capture exact arguments and return values (<Variant>)' -ForEach $traced {
        foreach ($mode in 'Uretprobe', 'RetInstruction') {
            $calls = @(Start-UTrace -Command "$Dir/moved" -Function $functions -ReturnMode $mode -Capture $specs 6>$null)
            $LASTEXITCODE | Should -Be 0
            foreach ($function in $functions) {
                $seen = $calls | Where-Object Function -EQ $function | ForEach-Object { "$($_.Arguments -join ',') -> $($_.ReturnValue)" }
                $seen -join '; ' | Should -Be ((0..19 | ForEach-Object { Get-ExpectedCall $function $_ }) -join '; ') -Because "$function, $mode"
            }
        }
    }

    It 'count every call entry-only' {
        $calls = @(Start-UTrace -Command "$FixtureBin/gcc-O2-pie/moved" -Function $functions -ReturnMode EntryOnly 6>$null)
        ($calls | Group-Object Function -NoElement | Sort-Object Name | ForEach-Object { "$($_.Name) $($_.Count)" }) -join '; ' |
            Should -Be 'loop_back 20; moved_add 20; moved_endbr 20; nop5_mul 20; stepped_sub 20'
    }

    It 'put the int3 on the instruction Get-UTraceFunction names; the kernel turns the 5-byte nop into a call' {
        $path = "$FixtureBin/gcc-O2-pie/moved"
        $listed = @{}
        Get-UTraceFunction $path -Function $functions | ForEach-Object { $listed[$_.Name] = $_ }
        $file = [IO.File]::ReadAllBytes($path)
        $process = Start-ServerFixture $path -ArgumentList serve
        try {
            $job = Start-UTrace -ProcessId $process.Id -Function $functions -AsJob -Confirm:$false
            $probe = { param($name) Read-LiveByte $process.Id $path ($listed[$name].Offset + $listed[$name].EntryProbeOffset) }
            Wait-Until { (& $probe moved_add) -eq 0xCC } | Should -BeTrue -Because 'the probe appears'
            foreach ($name in $functions) {
                & $probe $name | Should -Be 0xCC -Because "$name is probed at +$($listed[$name].EntryProbeOffset)"
            }
            # Before a moved probe, the function's own first bytes are untouched.
            Read-LiveByte $process.Id $path $listed.moved_add.Offset | Should -Be $file[$listed.moved_add.Offset]
            Read-LiveByte $process.Id $path $listed.moved_endbr.Offset | Should -Be 0xF3
            Invoke-ServerRequest $process -Count 2
            Read-LiveByte $process.Id $path $listed.nop5_mul.Offset | Should -Be 0xE8 -Because 'after its first hit the nop is a call into the trampoline'
            $summary = Stop-UTrace $job
            $summary.State | Should -Be 'Stopped'
            foreach ($name in $functions) {
                & $probe $name | Should -Be $file[$listed[$name].Offset + $listed[$name].EntryProbeOffset] -Because "$name's probe is gone"
            }
            ((Receive-Job $job | Group-Object Function -NoElement | Sort-Object Name | ForEach-Object { "$($_.Name) $($_.Count)" }) -join '; ') |
                Should -Be 'loop_back 2; moved_add 2; moved_endbr 2; nop5_mul 2; stepped_sub 2'
            Invoke-ServerRequest $process
        } finally {
            $process.StandardInput.Close()
            if (-not $process.WaitForExit(5000)) { $process.Kill() }
            Get-Job -Name 'UTrace*' -ErrorAction SilentlyContinue | Remove-Job -Force
        }
        $process.ExitCode | Should -Be 0
    }
}
