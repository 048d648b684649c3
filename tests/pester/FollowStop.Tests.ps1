# Ending a -Follow trace while a follower is busy inside a traced call. The kernel holds a pending
# return probe's grace period until 100 ms pass without a new one in that thread; each link's
# close waits for that grace period, so links closed one process at a time waited for good
# while another process kept making traced calls (busy_child.c). The stop must return, and the
# follower must run on unharmed.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $variants = @(Get-FixtureVariant)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $modulePath = (Resolve-Path (Join-Path $PSScriptRoot '../../Utrace.psd1')).Path

    # Waits for a file the traced program writes; false if it never comes.
    function Wait-File([string] $Path) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        while (-not (Test-Path $Path) -and $clock.Elapsed.TotalSeconds -lt 30) { Start-Sleep -Milliseconds 20 }
        Test-Path $Path
    }
}

Describe 'Stopping a -Follow trace while a follower makes traced calls' -Skip:$noBpf {
    It 'returns, and the follower returns from its traced call unharmed (<Variant>)' -ForEach $variants {
        $done = Join-Path $TestDrive "done-$Variant"
        $inside = Join-Path $TestDrive "inside-$Variant"
        $result = Join-Path $TestDrive "result-$Variant"
        $job = Start-UTrace -Command "$Dir/busy_child" -ArgumentList $done, $inside, $result -Follow -AsJob
        try {
            Wait-File $inside | Should -BeTrue -Because 'the child reaches poll_until'
            # Stopped from another thread, so that a stop that never returns fails the test instead of hanging it.
            $stopper = Start-ThreadJob { Import-Module $using:modulePath; Stop-UTrace -Job $using:job }
            $stopper | Wait-Job -Timeout 60 | Out-Null
            $stopper.State | Should -Be 'Completed' -Because 'the stop does not wait for the busy follower'
            $summary = Receive-Job $stopper
            $summary.State | Should -Be 'Stopped'
            Remove-Job $stopper
            $events = @(Receive-Job $job)
            $followerCalls = @($events | Where-Object { $_.ProcessId -ne $job.ProcessId -and $_.Function -eq 'tick' })
            $followerCalls.Count | Should -BeGreaterThan 0 -Because 'the follower was traced until the stop'
        }
        finally {
            New-Item -ItemType File $done -Force | Out-Null
            Remove-Job $job -Force
        }
        Wait-File $result | Should -BeTrue -Because 'the follower goes on once its probes are gone'
        Get-Content $result | Should -Be 'returned 1'
    }
}
