# LD_PRELOAD given to a launched program: the preloaded library is the program's alone. Its
# constructor runs once, in the program, never in Utrace's launcher or guard, so the program's
# output is what it is untraced. The libraries traced are those the dynamic linker loaded, read
# from the process: the preloaded one binds rand, and a library the linker takes from a
# glibc-hwcaps subdirectory is the one probed.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $modes = @(
        @{ Mode = 'default selection'; Trace = @{} }
        @{ Mode = '-Follow (the guard runs)'; Trace = @{ Follow = $true } }
        @{ Mode = '-NestLibrary librig*'; Trace = @{ NestLibrary = 'librig*'; Function = 'rand' } }
        @{ Mode = '-Library librig.so'; Trace = @{ Library = 'librig.so' } }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $shared = Join-Path $FixtureBin 'shared'
    $dice = Join-Path $shared 'dice'
    $rig = Join-Path $shared 'librig.so'

    # Runs the program untraced, or traced by a child pwsh that sets LD_PRELOAD for its children only;
    # stdout and stderr are files the program writes itself. Returns its output and the trace's rand count.
    function Invoke-Dice([hashtable] $Trace, [string] $Preload = $rig) {
        $out = Join-Path $TestDrive 'out'
        $err = Join-Path $TestDrive 'err'
        $counts = Join-Path $TestDrive 'counts'
        if ($null -eq $Trace) {
            bash -c 'if [ -n "$1" ]; then export LD_PRELOAD="$1"; fi; "$2" > "$3" 2> "$4"' _ $Preload $dice $out $err
            $exit = $LASTEXITCODE
        }
        else {
            $script = Join-Path $TestDrive 'trace.ps1'
            Set-Content $script @'
param($Module, $Program, $Preload, $TraceJson, $Counts)
$WarningPreference = 'SilentlyContinue'
Import-Module $Module
$trace = @{}
foreach ($p in ($TraceJson | ConvertFrom-Json).PSObject.Properties) { $trace[$p.Name] = $p.Value }
if ($Preload -ne 'none') { $env:LD_PRELOAD = $Preload }
$events = @(Start-UTrace -Command $Program @trace)
$rand = @($events | Where-Object Function -EQ 'rand')
Set-Content $Counts "$($rand.Count) $LASTEXITCODE $(($rand.Module | Sort-Object -Unique) -join ',')"
'@
            $module = Join-Path $PSScriptRoot '../../Utrace.psd1'
            $json = $Trace | ConvertTo-Json -Compress
            bash -c 'pwsh -NoProfile -File "$1" "$2" "$3" "$4" "$5" "$6" > "$7" 2> "$8"' _ $script $module $dice ($Preload ? $Preload : 'none') $json $counts $out $err
            $exit = [int]((Get-Content $counts) -split ' ')[1]
        }
        [pscustomobject]@{
            Stdout = (Get-Content -Raw $out) ?? ''
            Stderr = (Get-Content -Raw $err) ?? ''
            ExitCode = $exit
            RandCalls = if ($null -ne $Trace) { [int]((Get-Content $counts) -split ' ')[0] }
            RandModule = if ($null -ne $Trace) { ((Get-Content $counts) -split ' ')[2] }
        }
    }
}

Describe 'A preloaded library' -Skip:$noBpf {
    It 'runs its constructor once and overrides rand untraced (the oracle)' {
        $run = Invoke-Dice $null
        $run.Stdout | Should -BeExactly "sum 40`n"
        $run.Stderr | Should -BeExactly "loaded`n"
        $run.ExitCode | Should -Be 0
    }

    It 'leaves the output as untraced and counts each rand call once (<Mode>)' -ForEach $modes {
        $run = Invoke-Dice $Trace
        $run.Stdout | Should -BeExactly "sum 40`n"
        $run.Stderr | Should -BeExactly "loaded`n"
        $run.ExitCode | Should -Be 0
        $run.RandCalls | Should -Be 10
        $run.RandModule | Should -Be 'librig.so' -Because 'the loader binds rand to the preloaded library'
    }
}

Describe 'The same program without LD_PRELOAD' -Skip:$noBpf {
    It 'calls libc''s rand untraced (the oracle)' {
        $run = Invoke-Dice $null -Preload ''
        $run.Stdout | Should -BeExactly "sum 25`n"
        $run.Stderr | Should -BeExactly ''
        $run.ExitCode | Should -Be 0
    }

    It 'is traced as before: rand called 10 times in libc.so.6 (<Mode>)' -ForEach @(
        @{ Mode = 'default selection'; Trace = @{} }
        @{ Mode = '-NestLibrary librig* (not loaded)'; Trace = @{ NestLibrary = 'librig*'; Function = 'rand' } }
    ) {
        $run = Invoke-Dice $Trace -Preload ''
        $run.Stdout | Should -BeExactly "sum 25`n"
        $run.Stderr | Should -BeExactly ''
        $run.ExitCode | Should -Be 0
        $run.RandCalls | Should -Be 10
        $run.RandModule | Should -Be 'libc.so.6'
    }
}

Describe 'A library the dynamic linker takes from a glibc-hwcaps subdirectory' -Skip:$noBpf {
    BeforeAll {
        # nest finds libgreet.so through its RUNPATH ($ORIGIN); the linker prefers the copy in
        # glibc-hwcaps/x86-64-v2 when the CPU has that level (checked below). Uprobes belong to a
        # file: probes on the other copy would see no call.
        $app = Join-Path $TestDrive 'hwcaps'
        $subdirectory = Join-Path $app 'glibc-hwcaps/x86-64-v2'
        New-Item -ItemType Directory $subdirectory | Out-Null
        Copy-Item (Join-Path $shared 'nest'), (Join-Path $shared 'libgreet.so') $app
        Copy-Item (Join-Path $shared 'libgreet.so') $subdirectory
        $nest = Join-Path $app 'nest'
        $supported = (& /lib64/ld-linux-x86-64.so.2 --help) -match '^\s*x86-64-v2 \(supported, searched\)'
    }

    It 'is the copy the program runs (the oracle)' {
        $supported | Should -Not -BeNullOrEmpty -Because 'this test needs a CPU of level x86-64-v2'
        $loaded = bash -c 'LD_DEBUG=libs "$1" 2>&1 >/dev/null | grep "calling init: .*libgreet"' _ $nest
        $loaded | Should -Match ([regex]::Escape("$subdirectory/libgreet.so"))
        & $nest | Should -BeExactly '18'
    }

    It 'is the copy traced: every call into it counted once' {
        $events = @(Start-UTrace -Command $nest -NestLibrary 'libgreet*' 6> $null)
        $greet = @($events | Where-Object Module -EQ 'libgreet.so')
        @($greet | Where-Object Function -EQ 'greet').Count | Should -Be 3
        @($greet | Where-Object Function -EQ 'greet_helper').Count | Should -Be 6
        $LASTEXITCODE | Should -Be 0
    }
}
