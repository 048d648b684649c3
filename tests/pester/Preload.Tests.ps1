# LD_PRELOAD given to a launched program: the preloaded library is the program's alone. Its
# constructor runs once, in the program, never in Utrace's launcher or guard, so the program's
# output is what it is untraced.
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
    function Invoke-Dice([hashtable] $Trace) {
        $out = Join-Path $TestDrive 'out'
        $err = Join-Path $TestDrive 'err'
        $counts = Join-Path $TestDrive 'counts'
        if ($null -eq $Trace) {
            bash -c 'LD_PRELOAD="$1" "$2" > "$3" 2> "$4"' _ $rig $dice $out $err
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
$env:LD_PRELOAD = $Preload
$events = @(Start-UTrace -Command $Program @trace)
$rand = @($events | Where-Object Function -EQ 'rand')
Set-Content $Counts "$($rand.Count) $LASTEXITCODE $(($rand.Module | Sort-Object -Unique) -join ',')"
'@
            $module = Join-Path $PSScriptRoot '../../Utrace.psd1'
            $json = $Trace | ConvertTo-Json -Compress
            bash -c 'pwsh -NoProfile -File "$1" "$2" "$3" "$4" "$5" "$6" > "$7" 2> "$8"' _ $script $module $dice $rig $json $counts $out $err
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
