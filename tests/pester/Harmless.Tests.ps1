# A traced program computes exactly what it computes untraced: every fixture program, in every
# compiler variant, writes the same stdout and stderr and exits the same way under Start-UTrace
# -Command (default selection: own functions and library calls), and again with libc's functions
# nested (-NestLibrary 'libc*', on two variants), as it does untraced. Its calls that return normally are all
# reported, exactly. Every run is bounded: a hang is a failure, never a blocked suite.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $data = Import-PowerShellDataFile (Join-Path $PSScriptRoot 'HarmlessPrograms.psd1')
    $variants = @(Get-FixtureVariant)
    $nestVariants = @($variants | Where-Object { $_.Variant -in $data.NestVariants })
    $programs = $data.Programs
    $nested = @($programs | Where-Object Nest -NE $false)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ProgramRuns.ps1')

    function Get-Run([string] $Variant, [hashtable] $Program, [string] $Mode) {
        $Results["$Variant/$($Program.Label)/$Mode"]
    }

    function Assert-SameAsUntraced([string] $Variant, [hashtable] $Program, [string] $Mode) {
        $ignoreStdout = $null -eq $Program.Output
        $known = @{ ExitCode = [int]$Program.ExitCode; Stdout = $Program.Output; Stderr = '' }
        $untraced = Format-ProgramRun (Get-Run $Variant $Program 'untraced') -IgnoreStdout:$ignoreStdout
        $untraced | Should -Be (Format-ProgramRun $known -IgnoreStdout:$ignoreStdout) -Because 'that is what the program does untraced'
        Format-ProgramRun (Get-Run $Variant $Program $Mode) -IgnoreStdout:$ignoreStdout | Should -Be $untraced
    }

    function Assert-CallCount([string] $Variant, [hashtable] $Program, [string] $Mode) {
        $run = Get-Run $Variant $Program $Mode
        Format-CallCount $Program.Calls $run.Counts | Should -Be (Format-CallCount $Program.Calls) -Because "the run ended: $(Format-ProgramRun $run)"
    }
}

Describe 'Traced programs behave as untraced' -Skip:$noBpf {
    BeforeAll {
        $modes = [ordered]@{ untraced = $null; traced = @{}; 'nest libc' = @{ NestLibrary = 'libc*' } }
        # Kept after the run: the runner's stdout, stderr and results, to look into a failure.
        $workDirectory = Join-Path $PSScriptRoot '../../artifacts/harmless'

        # All runs go through one runner: a pwsh costs about a second to start.
        $data = Import-PowerShellDataFile (Join-Path $PSScriptRoot 'HarmlessPrograms.psd1')
        $specs = foreach ($variant in Get-FixtureVariant) {
            foreach ($program in $data.Programs) {
                $limits = @{}
                foreach ($name in $program.Calls.Keys) { $limits[$name] = 10 * $program.Calls[$name] + 100 }
                foreach ($mode in $modes.Keys) {
                    if ($mode -eq 'nest libc' -and ($program.Nest -eq $false -or $variant.Variant -notin $data.NestVariants)) { continue }
                    @{
                        Key = "$($variant.Variant)/$($program.Label)/$mode"
                        Program = Join-Path $variant.Dir $program.Name
                        Arguments = @($program.Arguments ?? @())
                        Trace = $modes[$mode]
                        CallLimits = $limits
                    }
                }
            }
        }
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $script:Results = Invoke-ProgramRunBatch -Run $specs -WorkDirectory $workDirectory -InputText $data.Input -TimeoutSeconds 30
        $stuck = @($Results.Values | Where-Object { $_.Error -like 'stuck:*' }).Count
        Write-Information "Harmless: $($specs.Count) runs took $($clock.Elapsed.TotalSeconds.ToString('0')) s; $stuck got stuck" -InformationAction Continue
    }

    Describe 'on <Variant>' -ForEach $variants {
        It '<Label>: writes and exits as untraced when traced' -ForEach $programs {
            Assert-SameAsUntraced $Variant $_ 'traced'
        }

        It '<Label>: traced, its calls are reported exactly' -ForEach $programs {
            Assert-CallCount $Variant $_ 'traced'
        }
    }

    Describe 'on <Variant> with -NestLibrary libc*' -ForEach $nestVariants {
        It '<Label>: writes and exits as untraced when traced' -ForEach $nested {
            Assert-SameAsUntraced $Variant $_ 'nest libc'
        }

        It '<Label>: traced, its calls are reported exactly' -ForEach $nested {
            Assert-CallCount $Variant $_ 'nest libc'
        }
    }
}

# Utrace stops a process while it patches return addresses for a C++ throw: a tracer killed then
# must not leave the process stopped, nor unable to throw.
Describe 'A tracer killed with SIGKILL while the traced program throws' -Skip:$noBpf {
    BeforeEach {
        $throws = 20000 # about 12 s untraced: the tracer is killed long before the end
        $info = [Diagnostics.ProcessStartInfo]::new((Join-Path $FixtureBin 'gcc-O2-pie/throw_loop'), "$throws")
        $info.RedirectStandardOutput = $true
        $program = [Diagnostics.Process]::Start($info)
        $output = $program.StandardOutput.ReadToEndAsync()
    }
    AfterEach {
        if (-not $program.HasExited) { $program.Kill() }
        if ($tracer -and -not $tracer.HasExited) { $tracer.Kill($true) }
    }

    It 'leaves throw_loop (attached with -ProcessId) to run to its normal end' {
        $pidFile = Join-Path $TestDrive 'tracer.pid'
        $readyFile = Join-Path $TestDrive 'tracer.ready'
        # pwsh is a launcher whose child dotnet process runs PowerShell: that one, $PID, is killed.
        $script = "Import-Module '$(Join-Path $PSScriptRoot '../../Utrace.psd1')'; Set-Content '$pidFile' `$PID
            Start-UTrace -ProcessId $($program.Id) -Confirm:`$false | ForEach-Object { if (-not `$ready) { Set-Content '$readyFile' 1; `$ready = `$true } }"
        $tracerInfo = [Diagnostics.ProcessStartInfo]::new('pwsh')
        foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $script) { $tracerInfo.ArgumentList.Add($argument) }
        $tracerInfo.RedirectStandardOutput = $true
        $tracer = [Diagnostics.Process]::Start($tracerInfo)

        $clock = [Diagnostics.Stopwatch]::StartNew()
        while (-not (Test-Path $readyFile) -and -not $program.HasExited -and $clock.Elapsed.TotalSeconds -lt 30) { Start-Sleep -Milliseconds 50 }
        Test-Path $readyFile | Should -BeTrue -Because 'the tracer delivers events while throw_loop runs'
        Start-Sleep -Milliseconds 300
        $program.HasExited | Should -BeFalse -Because 'the tracer must be killed while throw_loop runs'
        $tracerPid = [int](Get-Content $pidFile)
        Stop-Process -Id $tracerPid -Force # SIGKILL
        $tracer.WaitForExit(10000) | Should -BeTrue

        # Nothing continues a process that is stopped now: a second look at T settles it.
        $clock.Restart()
        while (-not $program.HasExited -and $clock.Elapsed.TotalSeconds -lt 60) {
            if ((Get-ProcessState $program.Id) -like 'T*') {
                Start-Sleep -Seconds 1
                Get-ProcessState $program.Id | Should -Not -BeLike 'T*' -Because 'throw_loop must not be left stopped by a killed tracer'
            }
            Start-Sleep -Milliseconds 100
        }
        $program.HasExited | Should -BeTrue -Because "throw_loop ends by itself (state now: $(Get-ProcessState $program.Id))"
        $program.ExitCode | Should -Be 0
        $output.Result | Should -Be "caught $throws`n"
    }
}
