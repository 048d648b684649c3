# A process that exits while Utrace reads it or attaches to it: whichever of its /proc files or
# mapped paths vanishes first, the error is ProcessExited (ObjectNotFound), never a .NET exception.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

Describe 'Attaching to a process that exits meanwhile' -Skip:$noBpf {
    It 'ends every one of 20 attaches either with a trace or with ProcessExited' {
        $outcomes = foreach ($i in 1..20) {
            # python3 -c pass lives ~20 ms, sleep 0 to 270 ms: the attach (reading ELF files, loading, attaching) races the exit.
            $process = if ($i % 2) { Start-Process /usr/bin/python3 -ArgumentList '-c', 'pass' -PassThru }
            else { Start-Process /usr/bin/sleep -ArgumentList "$(($i % 10) * 0.03)" -PassThru }
            try {
                Start-UTrace -ProcessId $process.Id -Confirm:$false -ErrorAction Stop -WarningAction SilentlyContinue | Out-Null
                'traced'
            }
            catch {
                "$($_.FullyQualifiedErrorId) $($_.CategoryInfo.Category) $($_.TargetObject -eq $process.Id)"
            }
            $process.WaitForExit()
        }
        @($outcomes).Count | Should -Be 20
        # A process already reaped when Utrace looks is one that does not exist (ProcessNotFound).
        $expected = 'traced', 'ProcessExited,Utrace.PowerShell.StartUTraceCommand ObjectNotFound True',
            'ProcessNotFound,Utrace.PowerShell.StartUTraceCommand ObjectNotFound True'
        @($outcomes | Where-Object { $_ -notin $expected }) | Should -BeNullOrEmpty
    }
}
