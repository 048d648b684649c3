# What users expect of any published module: one meaning per parameter name, paths through the
# provider, per-item errors with specific ids, and Durations that survive export and import.
BeforeDiscovery {
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $bin = Join-Path $script:FixtureBin 'gcc-O2-pie'
    function Get-Count($Events) { ($Events | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' ' }
}

Describe 'Ids: one meaning per parameter name' {
    It 'Stop-UTrace takes the trace''s own id as -TraceId and has no -Id' {
        $stop = Get-Command Stop-UTrace
        $stop.Parameters.Keys | Should -Contain 'TraceId'
        $stop.Parameters.Keys | Should -Not -Contain 'Id'
        $stop.Parameters.Values.Aliases | Should -Not -Contain 'Id'
    }

    It '<Name> -ProcessId is a process id, with the aliases Id and PID that bind Get-Process' -ForEach @(
        @{ Name = 'Start-UTrace' }, @{ Name = 'Get-UTraceFunction' }
    ) {
        $parameter = (Get-Command $Name).Parameters['ProcessId']
        $parameter.Aliases | Sort-Object | Should -Be @('Id', 'PID')
        $parameter.ParameterSets.Values.ValueFromPipelineByPropertyName | Should -Be $true
    }

    It 'Stop-UTrace -Id $job.Id (a job id) is refused by name, not taken as a trace id' {
        { Stop-UTrace -Id 1 -ErrorAction Stop } | Should -Throw -ErrorId 'NamedParameterNotFound,Utrace.PowerShell.StopUTraceCommand'
    }
}

Describe 'Paths through the PowerShell provider' -Skip:$noBpf {
    BeforeAll {
        $dir = New-Item -ItemType Directory (Join-Path $TestDrive 'progs')
        Copy-Item "$bin/fib" $dir
        Copy-Item "$bin/chain" $dir
        Copy-Item "$bin/fib" (Join-Path $dir 'fib[1]')
        New-PSDrive -Name utr -PSProvider FileSystem -Root $dir.FullName | Out-Null
        $fileSystem = Get-PSProvider FileSystem
        $savedHome = $fileSystem.Home
        $fileSystem.Home = $dir.FullName
        $fibFunctions = (Get-UTraceFunction -Path "$bin/fib").Name -join ','
        $chainFunctions = (Get-UTraceFunction -Path "$bin/chain").Name -join ','
        $fibCalls = Get-Count (Start-UTrace -Command "$bin/fib 6")
    }
    AfterAll {
        $fileSystem.Home = $savedHome
        Remove-PSDrive utr
    }

    It 'Get-UTraceFunction -Path <Path> reads fib' -ForEach @(
        @{ Path = '~/fib' }, @{ Path = 'utr:/fib' }, @{ Path = './progs/fib' }, @{ Path = 'progs/f?b' }
    ) {
        Push-Location $TestDrive
        try { (Get-UTraceFunction -Path $Path).Name -join ',' | Should -Be $fibFunctions }
        finally { Pop-Location }
    }

    It 'Get-UTraceFunction -Path with a wildcard reads every file it matches' {
        $functions = Get-UTraceFunction -Path (Join-Path $dir 'ch*'), (Join-Path $dir 'fib')
        ($functions.Name -join ',') | Should -Be "$chainFunctions,$fibFunctions"
    }

    It 'Get-UTraceFunction -LiteralPath takes [ and ] as they are; -Path takes them as a wildcard set' {
        (Get-UTraceFunction -LiteralPath (Join-Path $dir 'fib[1]')).Name -join ',' | Should -Be $fibFunctions
        Get-UTraceFunction -Path (Join-Path $dir 'fib[1]') -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'ProgramNotFound,Utrace.PowerShell.GetUTraceFunctionCommand'
    }

    It 'Get-ChildItem | Get-UTraceFunction binds each file''s PSPath' {
        $functions = Get-ChildItem $dir -Filter 'ch*' | Get-UTraceFunction
        $functions.Name -join ',' | Should -Be $chainFunctions
    }

    It 'a bare name is still a program on PATH' {
        (Get-UTraceFunction -Path sort).Count | Should -Be (Get-UTraceFunction -Path /usr/bin/sort).Count
    }

    It 'Start-UTrace -Command ''<Program> 6'' runs fib' -ForEach @(
        @{ Program = '~/fib' }, @{ Program = 'utr:/fib' }
    ) {
        Get-Count (Start-UTrace -Command "$Program 6") | Should -Be $fibCalls
    }

    It 'a path on another provider is an InvalidArgument error' {
        Get-UTraceFunction -Path 'env:PATH' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'ProgramNotFileSystem,Utrace.PowerShell.GetUTraceFunctionCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}

Describe 'A running process: trace ids, and per-item errors with their own ids' -Skip:$noBpf {
    BeforeAll { $server = Start-ServerFixture (Join-Path $bin 'server') }
    AfterAll {
        if (-not $server.HasExited) { $server.Kill() }
        Get-Job -Name 'UTrace*' -ErrorAction SilentlyContinue | Remove-Job -Force
    }

    It '-TraceId completes with the running traces and stops the one named' {
        $job = Start-UTrace -ProcessId $server.Id -AsJob -Confirm:$false
        $line = 'Stop-UTrace -TraceId '
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
        $completions.CompletionText | Should -Contain "$($job.TraceId)"
        ($completions | Where-Object CompletionText -EQ "$($job.TraceId)").ToolTip | Should -Be "trace $($job.TraceId) of process $($server.Id) ($((Get-Process -Id $server.Id).Path))"
        $summary = Stop-UTrace -TraceId $job.TraceId
        $summary.Id | Should -Be $job.TraceId
        $server.HasExited | Should -BeFalse
        # Ended: its summary again, as Stop-UTrace $job gives it, while the job is listed.
        $again = Stop-UTrace -TraceId $job.TraceId
        "$($again.Id) $($again.State)" | Should -Be "$($job.TraceId) Stopped"
        Remove-Job $job
        Stop-UTrace -TraceId $job.TraceId -ErrorVariable gone -ErrorAction SilentlyContinue
        $gone[0].FullyQualifiedErrorId | Should -Be 'TraceNotFound,Utrace.PowerShell.StopUTraceCommand'
    }

    It 'a process that cannot be traced does not end a Get-Process | Start-UTrace -AsJob pipeline' {
        $jobs = @([pscustomobject]@{ Id = 999999 }, [pscustomobject]@{ Id = $server.Id }) |
            Start-UTrace -AsJob -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $jobs.Count | Should -Be 1
        $jobs[0].ProcessId | Should -Be $server.Id
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be 'ProcessNotFound,Utrace.PowerShell.StartUTraceCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be 999999
        Invoke-ServerRequest $server -Count 2
        Stop-UTrace $jobs[0] | Out-Null
        @(Receive-Job $jobs[0] | Where-Object Function -EQ 'handle_request').Count | Should -Be 2
    }

    It '<Case> is <ErrorId> (<Category>) with the hint <Hint>' -ForEach @(
        @{ Case = '/etc/passwd'; Make = { '/etc/passwd' }; ErrorId = 'NotAProgram'; Category = 'InvalidArgument'; Hint = 'Give the program to run' }
        @{ Case = 'a program without its exec bit'; Make = { $p = Join-Path $TestDrive 'noexec'; Copy-Item "$bin/fib" $p; chmod -x $p; $p }; ErrorId = 'ProgramNotExecutable'; Category = 'PermissionDenied'; Hint = 'chmod +x' }
        @{ Case = 'a missing program'; Make = { Join-Path $TestDrive 'missing' }; ErrorId = 'ProgramNotFound'; Category = 'ObjectNotFound'; Hint = 'current location' }
        @{ Case = 'a selection that matches nothing'; Make = { "$bin/fib -Function none" }; ErrorId = 'NoFunctionMatches'; Category = 'ObjectNotFound'; Hint = 'Get-UTraceFunction' }
    ) {
        $command = & $Make
        $selection = if ($command -like '* -Function none') { $command = $command -replace ' -Function none'; @{ Function = 'none' } } else { @{} }
        Start-UTrace -Command $command @selection -ErrorVariable err -ErrorAction SilentlyContinue | Out-Null
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "$ErrorId,Utrace.PowerShell.StartUTraceCommand"
        $err[0].CategoryInfo.Category | Should -Be $Category
        $err[0].ErrorDetails.RecommendedAction | Should -Match ([regex]::Escape($Hint))
    }

    It 'a bare number given to -MinDuration (<Typed>) is refused with a hint to write ''500ms''' -ForEach @(
        @{ Typed = '0.5s'; Value = 0.5s }, @{ Typed = '250us'; Value = 250us }, @{ Typed = '2'; Value = 2 }, @{ Typed = '1.5'; Value = 1.5 }
    ) {
        { Start-UTrace -Command "$bin/fib 3" -MinDuration $Value } |
            Should -Throw -ErrorId 'ParameterArgumentTransformationError,Utrace.PowerShell.StartUTraceCommand' -ExpectedMessage "*'500ms'*"
    }
}

Describe 'Duration and Start outside the live pipeline' -Skip:$noBpf {
    BeforeAll {
        Push-Location $TestDrive
        $events = Start-UTrace -Command "$bin/slowfast"
        $properties = $events[0].PSObject.Properties.Name
        function Get-Text($Events) { $Events | ForEach-Object { $e = $_; ($properties | ForEach-Object { "$($e.$_)" }) -join '|' } }
    }
    AfterAll { Pop-Location }

    It 'a Duration alone prints one value, as a Start does' {
        ($events[0].Duration | Out-String).Trim() | Should -Be $events[0].Duration.ToString()
        ($events[0].Start | Out-String).Trim() | Should -Be $events[0].Start.ToString()
    }

    It 'Measure-Object Duration -Sum -Average -Maximum counts nanoseconds, as DurationNs does' {
        $byDuration = $events | Measure-Object Duration -Sum -Average -Maximum
        $byNs = $events | Measure-Object DurationNs -Sum -Average -Maximum
        $byDuration.Sum | Should -Be $byNs.Sum
        $byDuration.Average | Should -Be $byNs.Average
        $byDuration.Maximum | Should -Be $byNs.Maximum
    }

    It 'Start keeps its nanoseconds in text: ISO 8601 with nine digits, the wall clock of StartNs' {
        $events[0].Start.ToString() | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d$'
        [Utrace.Timestamp]::Parse($events[0].Start.ToString()) | Should -Be $events[0].Start
        ($events[1].Start - $events[0].Start).Nanoseconds | Should -Be ($events[1].StartNs - $events[0].StartNs)
    }

    It 'Import-UTrace of <Format> gives the same CallEvents, typed: Duration compares as a Duration' -ForEach @(
        @{ Format = 'Export-Csv'; File = 'events.csv' }, @{ Format = 'Export-Clixml'; File = 'events.xml' }
    ) {
        $events | & $Format (Join-Path $TestDrive $File)
        $back = @(Import-UTrace (Join-Path $TestDrive $File))
        $back[0] | Should -BeOfType Utrace.CallEvent
        Get-Text $back | Should -Be (Get-Text $events)
        @($back | Where-Object Duration -GT 1ms).Count | Should -Be @($events | Where-Object Duration -GT 1ms).Count
        ($back | Sort-Object Duration -Descending | Select-Object -First 5).DurationNs | Should -Be ($events | Sort-Object Duration -Descending | Select-Object -First 5).DurationNs
        $back.Start.UnixNanoseconds | Should -Be $events.Start.UnixNanoseconds
    }

    It 'Import-UTrace of a CSV that does not hold CallEvents is an InvalidData error naming what is missing' {
        Get-Process -Id $PID | Select-Object Name, Id | Export-Csv (Join-Path $TestDrive 'other.csv')
        Import-UTrace (Join-Path $TestDrive 'other.csv') -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'InvalidCallEventExport,Utrace.PowerShell.ImportUTraceCommand'
        $err[0].Exception.Message | Should -BeLike '*row 1 has no Function*'
    }
}
