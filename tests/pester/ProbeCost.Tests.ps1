# The probes' cost taken out of each call's duration: the traced calls the kernel counts inside a
# call, priced by the calibration (Get-UTraceCalibration), give its ProbeCost exactly. Only exact
# facts are asserted here; how close the corrected durations come to untraced ones is measured by
# bench/probe-cost.ps1.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:program = Join-Path $FixtureBin 'gcc-O2-pie/probecost'
    # What one traced call of a function costs its caller, and the part inside its own duration (ns).
    function Get-HitCost($Calibration, [string] $EntryProbe, [string] $Part) {
        $kind = switch ($EntryProbe) { OptimizedNop { 'OptimizedNop' } { $_ -in 'Emulated', 'Moved' } { 'Emulated' } default { 'SingleStepped' } }
        $Calibration."$kind$Part".Nanoseconds
    }
}

Describe 'Probe cost accounted per call' -Skip:$noBpf {
    BeforeAll {
        $script:calibration = Get-UTraceCalibration -ReturnMode Uretprobe
        $script:kinds = @{}
        Get-UTraceFunction $program -Function leaf, pair, parent | ForEach-Object { $kinds[$_.Name] = "$($_.EntryProbe)" }
        $script:file = Join-Path ([IO.Path]::GetTempPath()) "utrace-probecost-$PID.utrace"
        $script:calls = @(Start-UTrace -Command "$program 1000" -Function leaf, pair, parent -ReturnMode Uretprobe -OutFile $file -PassThru)
    }
    AfterAll { Remove-Item $file -ErrorAction SilentlyContinue }

    It 'is measured for this machine, per kind of entry probe, and kept' {
        $calibration.KernelRelease | Should -Be ([IO.File]::ReadAllText('/proc/sys/kernel/osrelease').Trim())
        $calibration.ReturnMode | Should -Be 'Uretprobe'
        (Get-UTraceCalibration -ReturnMode Uretprobe).MeasuredAt | Should -Be $calibration.MeasuredAt
        foreach ($kind in 'Emulated', 'SingleStepped', 'OptimizedNop') {
            $calibration."${kind}Inside".Nanoseconds | Should -BeLessOrEqual $calibration."${kind}Call".Nanoseconds
        }
    }

    It 'counts in the kernel exactly the traced calls inside each call' {
        ($calls | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' ' |
            Should -Be 'leaf=2000 pair=1000 parent=1'
        ($calls | Where-Object Function -eq parent).CallsInside | Should -Be 3000
        @($calls | Where-Object Function -eq pair | Where-Object CallsInside -ne 2).Count | Should -Be 0
        @($calls | Where-Object Function -eq leaf | Where-Object CallsInside -ne 0).Count | Should -Be 0
    }

    It 'prices them with the calibration, bottom up: own self time = raw self time - own inside part - children''s outside parts; own time = that + children''s own times' {
        # The outside part of a child's probes: its whole cost less the part inside its own duration.
        $leafOutside = (Get-HitCost $calibration $kinds.leaf 'Call') - (Get-HitCost $calibration $kinds.leaf 'Inside')
        $pairOutside = (Get-HitCost $calibration $kinds.pair 'Call') - (Get-HitCost $calibration $kinds.pair 'Inside')
        $children = [Collections.Generic.List[object]]::new()
        $wrong = 0
        # Calls come as they return: a pair's two leaves just before it, the 1,000 pairs before parent.
        foreach ($call in $calls) {
            $ownSelf, $childTime = switch ($call.Function) {
                leaf { [Math]::Max(0, $call.RawSelfNs - (Get-HitCost $calibration $kinds.leaf 'Inside')), 0 }
                pair { [Math]::Max(0, $call.RawSelfNs - (Get-HitCost $calibration $kinds.pair 'Inside') - 2 * $leafOutside), ($children[-2..-1] | Measure-Object DurationNs -Sum).Sum }
                parent { [Math]::Max(0, $call.RawSelfNs - (Get-HitCost $calibration $kinds.parent 'Inside') - 1000 * $pairOutside), ($children | Where-Object Function -EQ pair | Measure-Object DurationNs -Sum).Sum }
            }
            if ($call.SelfNs -ne $ownSelf -or $call.DurationNs -ne $ownSelf + $childTime -or $call.ProbeCostNs -ne $call.RawDurationNs - $call.DurationNs) { $wrong++ }
            $children.Add($call)
        }
        $wrong | Should -Be 0
    }

    It 'reports the program''s own time: Duration = RawDuration - ProbeCost, never negative, flagged past 80%' {
        @($calls | Where-Object { $_.DurationNs -ne [Math]::Max(0, $_.RawDurationNs - $_.ProbeCostNs) }).Count | Should -Be 0
        @($calls | Where-Object { $_.ProbeDominated -ne ($_.ProbeCostNs -gt 0.8 * $_.RawDurationNs) }).Count | Should -Be 0
        ($calls | Measure-Object DurationNs -Minimum).Minimum | Should -BeGreaterOrEqual 0
    }

    It 'keeps raw and corrected figures in the trace file' {
        $imported = @(Import-UTrace $file)
        ($imported | ForEach-Object { "$($_.Function) $($_.RawDurationNs) $($_.ProbeCostNs) $($_.DurationNs) $($_.SelfNs) $($_.CallsInside)" }) -join ';' |
            Should -Be (($calls | ForEach-Object { "$($_.Function) $($_.RawDurationNs) $($_.ProbeCostNs) $($_.DurationNs) $($_.SelfNs) $($_.CallsInside)" }) -join ';')
    }

    It 'sums the corrected times in Measure-UTrace, with the probes'' share and its flag per function' {
        foreach ($row in @($calls | Measure-UTrace) + @(Measure-UTrace -Path $file)) {
            $own = @($calls | Where-Object Function -eq $row.Function)
            $raw = ($own | Measure-Object RawDurationNs -Sum).Sum
            $row.SelfNs | Should -Be ($own | Measure-Object SelfNs -Sum).Sum
            $row.ProbeCost.Nanoseconds | Should -Be ($raw - ($own | Measure-Object DurationNs -Sum).Sum)
            $row.ProbeDominated | Should -Be ($row.ProbeCost.Nanoseconds -gt 0.8 * $raw)
        }
    }

    It 'takes nothing out of a call with no traced call inside beyond its own probes' {
        $only = @(Start-UTrace -Command "$program 10" -Function parent -ReturnMode Uretprobe)
        $only.Count | Should -Be 1
        $only[0].CallsInside | Should -Be 0
        $only[0].ProbeCostNs | Should -Be (Get-HitCost $calibration $kinds.parent 'Inside')
    }
}
