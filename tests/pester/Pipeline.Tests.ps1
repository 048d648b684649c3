# What PowerShell users try first with calls and trace files: casts, sums, tab completion, and
# the types Get-Command says each cmdlet writes.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $bin = Join-Path $script:FixtureBin 'gcc-O2-pie'
    function Get-Completion([string] $Line) { (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches }
}

Describe 'Timestamp' {
    It 'casts to DateTime (UTC) and DateTimeOffset, to the 100 ns tick' {
        $start = [Utrace.Timestamp]::FromUnixNanoseconds(1700000000123456789)
        $utc = [datetime]$start
        $utc.Kind | Should -Be 'Utc'
        $utc.Ticks | Should -Be ([datetime]::UnixEpoch.Ticks + 17000000001234567)
        $offset = [DateTimeOffset]$start
        $offset.Offset | Should -Be ([timespan]::Zero)
        $offset.UtcTicks | Should -Be $utc.Ticks
        [Utrace.Timestamp]$utc | Should -Be ([Utrace.Timestamp]::FromUnixNanoseconds(1700000000123456700))
    }
}

Describe 'Duration sums' {
    It 'Measure-Object sums Durations in ns, and FromNanoseconds makes the sum a Duration again' {
        $durations = [Utrace.Duration]::FromNanoseconds(1500), [Utrace.Duration]::FromNanoseconds(2000000), [Utrace.Duration]::FromNanoseconds(7)
        $calls = $durations | ForEach-Object { [pscustomobject]@{ Duration = $_; DurationNs = $_.Nanoseconds } }
        ($calls | Measure-Object Duration -Sum).Sum | Should -Be 2001507
        $total = [Utrace.Duration]::FromNanoseconds(($calls | Measure-Object DurationNs -Sum).Sum)
        $total | Should -BeOfType Utrace.Duration
        "$total" | Should -Be "$([Utrace.Duration]::FromNanoseconds(2001507))"
    }
}

Describe 'Tab completion' {
    It '-ProcessId completes running processes by id and by name, never file names' {
        foreach ($command in 'Start-UTrace', 'Get-UTraceFunction') {
            $byId = Get-Completion "$command -ProcessId $PID"
            $byId.CompletionText | Should -Contain "$PID"
            ($byId | Where-Object CompletionText -EQ "$PID").ListItemText | Should -Be "$PID $((Get-Process -Id $PID).ProcessName)"
            @($byId.CompletionText | Where-Object { $_ -notlike "$PID*" }).Count | Should -Be 0
            (Get-Completion "$command -ProcessId $((Get-Process -Id $PID).ProcessName)").CompletionText | Should -Contain "$PID"
            New-Item -ItemType File -Path (Join-Path $TestDrive "$PID-file") -Force | Out-Null
            Push-Location $TestDrive
            try { (Get-Completion "$command -ProcessId $PID").CompletionText | Should -Not -Contain "./$PID-file" }
            finally { Pop-Location }
        }
    }

    It '-ExcludeFunction completes from the target''s symbols, as -Function does' {
        $line = "Start-UTrace -Command $bin/libcalls -ExcludeFunction ma"
        ((Get-Completion $line).CompletionText | Sort-Object) -join ',' | Should -Be 'main,make,malloc'
        $line = "Get-UTraceFunction -Path $bin/libcalls -ExcludeFunction ma"
        ((Get-Completion $line).CompletionText | Sort-Object) -join ',' | Should -Be 'main,make,malloc'
    }
}

Describe '[OutputType]' {
    It 'lists every type <Name> writes' -ForEach @(
        @{ Name = 'Start-UTrace'; Types = 'Utrace.CallEvent', 'Utrace.FunctionSummary', 'Utrace.PowerShell.UTraceJob' }
        @{ Name = 'Stop-UTrace'; Types = , 'Utrace.TraceSummary' }
        @{ Name = 'Get-UTraceFunction'; Types = , 'Utrace.FunctionInfo' }
        @{ Name = 'Import-UTrace'; Types = , 'Utrace.CallEvent' }
        @{ Name = 'Measure-UTrace'; Types = , 'Utrace.FunctionSummary' }
        @{ Name = 'ConvertTo-UTraceCallGraph'; Types = , 'System.String' }
        @{ Name = 'ConvertTo-UTraceFlameGraph'; Types = , 'System.String' }
        @{ Name = 'ConvertTo-UTraceChromeTrace'; Types = , 'System.String' }
        @{ Name = 'ConvertTo-UTracePerfetto'; Types = , 'System.IO.FileInfo' }
        @{ Name = 'Compare-UTrace'; Types = , 'Utrace.FunctionComparison' }
        @{ Name = 'Get-UTraceCalibration'; Types = , 'Utrace.ProbeCalibration' }
        # Like Export-Csv, it writes the file and nothing to the pipeline.
        @{ Name = 'Export-UTrace'; Types = @() }
        # One object per result row, with the query's columns as properties.
        @{ Name = 'Invoke-UTraceQuery'; Types = , 'System.Management.Automation.PSObject' }
    ) {
        ((Get-Command $Name).OutputType.Type.FullName | Sort-Object) -join ',' | Should -Be ($Types -join ',')
    }

    It 'covers every cmdlet of the module' {
        ((Get-Command -Module Utrace -CommandType Cmdlet).Name | Sort-Object) -join ',' |
            Should -Be 'Compare-UTrace,ConvertTo-UTraceCallGraph,ConvertTo-UTraceChromeTrace,ConvertTo-UTraceFlameGraph,ConvertTo-UTracePerfetto,Export-UTrace,Get-UTraceCalibration,Get-UTraceFunction,Import-UTrace,Invoke-UTraceQuery,Measure-UTrace,Start-UTrace,Stop-UTrace'
    }
}
