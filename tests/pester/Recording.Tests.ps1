BeforeDiscovery {
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Bin = Join-Path $FixtureBin 'gcc-O2-pie'
    # Every public property of CallEvent, so that a property added later is compared too.
    $script:Properties = @([Utrace.CallEvent].GetProperties([System.Reflection.BindingFlags] 'Public, Instance').Name)

    # Every property of every event, in order, as one comparable string per event.
    function Format-Event($Events) {
        foreach ($e in $Events) { @(foreach ($p in $Properties) { "$p=$($e.$p)" }) -join ' ' }
    }
}

Describe 'Start-UTrace -OutFile, then Import-UTrace' -Skip:$noBpf {
    It 'imports exactly the events streamed live (-PassThru), every property, for <Command><Label>' -ForEach @(
        @{ Command = 'fib 10'; Function = 'fib'; Calls = 177; Capture = @{}; Label = '' }
        @{ Command = 'threads'; Function = 'work'; Calls = 4000; Capture = @{}; Label = '' }
        # Arguments and ReturnValue are compared with values in them.
        @{ Command = 'fib 10'; Function = 'fib'; Calls = 177; Capture = @{ fib = 'int -> int' }; Label = ' -Capture' }
    ) {
        $Properties | Should -Contain 'HasDuration'
        $file = Join-Path $TestDrive 'live.arrows'
        $capture = if ($Capture.Count) { @{ Capture = $Capture } } else { @{} }
        $live = @(Start-UTrace -Command "$Bin/$Command" -OutFile $file -PassThru -SummaryVariable summary @capture)
        @($live | Where-Object { $null -ne $_.ReturnValue }).Count | Should -Be ($Capture.Count ? $Calls : 0)
        $imported = @(Import-UTrace $file -WarningVariable warnings)
        $warnings | Should -BeNullOrEmpty
        @($imported | Where-Object Function -EQ $Function).Count | Should -Be $Calls
        $summary.EventsRecorded | Should -Be $live.Count
        $summary.EventsDelivered | Should -Be $live.Count
        $summary.EventsDropped | Should -Be 0
        $imported.Count | Should -Be $live.Count
        Format-Event $imported | Should -Be (Format-Event $live)
        $imported[0] | Should -BeOfType Utrace.CallEvent
    }

    It 'imports an entry-only recording as calls without a duration, which the reports take as they take the live ones' {
        $file = Join-Path $TestDrive 'entry-only.arrows'
        $live = @(Start-UTrace -Command "$Bin/fib 10" -Function main, fib -ReturnMode EntryOnly -OutFile $file -PassThru)
        $imported = @(Import-UTrace $file)
        $imported.Count | Should -Be 178
        Format-Event $imported | Should -Be (Format-Event $live)
        @($live | Where-Object HasDuration).Count | Should -Be 0
        @($imported | Where-Object HasDuration).Count | Should -Be 0
        $imported.DurationNs | Sort-Object -Unique | Should -Be 0
        $live | Export-Csv (Join-Path $TestDrive 'entry-only.csv')
        @(Import-UTrace (Join-Path $TestDrive 'entry-only.csv') | Where-Object HasDuration).Count | Should -Be 0

        $properties = 'Function', 'Module', 'ThreadId', 'Calls', 'Total', 'Self', 'Average', 'Min', 'Max', 'TotalPercent', 'SelfPercent'
        $summary = $live | Measure-UTrace | Select-Object $properties | ConvertTo-Csv
        $imported | Measure-UTrace | Select-Object $properties | ConvertTo-Csv | Should -Be $summary
        Measure-UTrace -Path $file | Select-Object $properties | ConvertTo-Csv | Should -Be $summary
        ($live | Measure-UTrace | Where-Object Function -EQ 'fib').Calls | Should -Be 177

        $graph = @($live | ConvertTo-UTraceCallGraph)
        $graph[1] | Should -Match '^ {11}\[ *\d+\] \| main\(\) \{$'
        $imported | ConvertTo-UTraceCallGraph | Should -Be $graph
        ConvertTo-UTraceCallGraph -Path $file | Should -Be $graph
    }

    It 'writes nothing to the pipeline without -PassThru, and the file holds every call' {
        $file = Join-Path $TestDrive 'quiet.arrows'
        $out = @(Start-UTrace -Command "$Bin/fib 10" -OutFile $file -SummaryVariable summary)
        $out.Count | Should -Be 0
        $summary.EventsDelivered | Should -Be 0
        $summary.EventsRecorded | Should -Be (@(Import-UTrace $file).Count)
        @(Import-UTrace $file | Where-Object Function -EQ 'fib').Count | Should -Be 177
    }

    It 'records from a job: Receive-Job yields nothing, the file everything' {
        $file = Join-Path $TestDrive 'job.arrows'
        $job = Start-UTrace -Command "$Bin/fib 10" -OutFile $file -AsJob
        $job | Wait-Job -Timeout 30 | Out-Null
        @(Receive-Job $job).Count | Should -Be 0
        $job.Summary.EventsRecorded | Should -Be (@(Import-UTrace $file).Count)
        @(Import-UTrace $file | Where-Object Function -EQ 'fib').Count | Should -Be 177
        Remove-Job $job
    }

    It 'records a process attached with -ProcessId' {
        $server = Start-ServerFixture "$Bin/server"
        try {
            $file = Join-Path $TestDrive 'attached.arrows'
            $job = Start-UTrace -ProcessId $server.Id -Function handle_request, background_task -OutFile $file -AsJob -Confirm:$false
            Invoke-ServerRequest $server -Count 5
            $summary = Stop-UTrace $job
            $events = @(Import-UTrace $file)
            @($events | Where-Object Function -EQ 'handle_request').Count | Should -Be 5
            @($events | Where-Object Function -EQ 'background_task').Count | Should -Be 5
            $events.Count | Should -Be 10
            $summary.EventsRecorded | Should -Be 10
            Remove-Job $job
        }
        finally {
            $server.Kill()
        }
    }

    It 'stores where the trace came from' {
        $file = Join-Path $TestDrive 'origin.arrows'
        Start-UTrace -Command "$Bin/fib 3" -OutFile $file -SummaryVariable summary
        $trace = [Utrace.TraceFile]::Open($file)
        try {
            $trace.Origin.Command | Should -Be "$Bin/fib 3"
            $trace.Origin.ProcessIds | Should -Be @($summary.ProcessId)
            $trace.Origin.HostName | Should -Be ([Environment]::MachineName)
            $trace.Origin.KernelRelease | Should -Be (uname -r)
            $trace.FormatVersion | Should -Be ([version]'2.0')
            $trace.Context.Functions.Name | Should -Contain 'fib'
            ($trace.Context.Functions | Where-Object Name -EQ 'fib').Path | Should -Be "$Bin/fib"
            $trace.Context.StartTime | Should -BeGreaterOrEqual $summary.StartTime.ToUniversalTime().AddSeconds(-1)
        }
        finally {
            $trace.Dispose()
        }
    }

    It 'creates the file mode 0640, owned by the sudo user' {
        $file = Join-Path $TestDrive 'private.arrows'
        $env:SUDO_UID = '65534'; $env:SUDO_GID = '65533'
        try {
            Start-UTrace -Command "$Bin/fib 3" -OutFile $file
        }
        finally {
            Remove-Item env:SUDO_UID, env:SUDO_GID
        }
        stat -c '%a %u %g' $file | Should -Be '640 65534 65533'
    }
}

Describe 'A recording that ends badly' -Skip:$noBpf {
    It 'reads up to the last batch, with a warning, after the tracer is killed with SIGKILL' {
        $server = Start-ServerFixture "$Bin/server"
        $file = Join-Path $TestDrive 'killed.arrows'
        $ready = Join-Path $TestDrive 'tracer.pid'
        $module = Join-Path $PSScriptRoot '../../Utrace.psd1'
        # A real tracer in another PowerShell; the dotnet tool's pwsh is a launcher, so the
        # PowerShell that runs the trace writes its own $PID.
        $script = "Import-Module '$module'; `$job = Start-UTrace -ProcessId $($server.Id) -Function handle_request, background_task -OutFile '$file' -AsJob -Confirm:`$false; Set-Content '$ready' `$PID; Wait-Job `$job"
        $launcher = Start-Process pwsh -ArgumentList '-NoProfile', '-Command', $script -PassThru
        try {
            $deadline = (Get-Date).AddSeconds(60)
            while (-not (Test-Path $ready) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
            Invoke-ServerRequest $server -Count 20
            # Written within a second (FlushInterval), while the tracer runs.
            $deadline = (Get-Date).AddSeconds(10)
            while (@(Import-UTrace $file -WarningAction SilentlyContinue).Count -lt 40 -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
            $tracer = [int](Get-Content $ready)
            Stop-Process -Id $tracer -Force
            Wait-Process -Id $tracer -Timeout 10

            $events = @(Import-UTrace $file -WarningVariable warnings -WarningAction SilentlyContinue)
            $events.Count | Should -Be 40
            @($events | Where-Object Function -EQ 'handle_request').Count | Should -Be 20
            $warnings.Count | Should -Be 1
            "$($warnings[0])" | Should -BeLike "*was cut short*40 events were read*"
            # The kernel removed the probes with the tracer: the server goes on.
            Invoke-ServerRequest $server
        }
        finally {
            $server.Kill()
            if (-not $launcher.HasExited) { $launcher.Kill() }
        }
    }

    It 'ends the recording on a full disk with an error and a file that reads' {
        $disk = Join-Path $TestDrive 'tiny'
        New-Item -ItemType Directory $disk | Out-Null
        mount -t tmpfs -o size=4m utrace-test $disk
        try {
            $file = Join-Path $disk 'full.arrows'
            # fib(24) makes 75,024 calls: 10 MB of events for a 4 MB disk (a batch of 16,384 takes about 2.3 MB).
            $out = Start-UTrace -Command "$Bin/fib 24" -OutFile $file -SummaryVariable summary `
                -ErrorVariable failures -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $failures.Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'RecordingFailed,Utrace.PowerShell.StartUTraceCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
            "$($failures[0])" | Should -BeLike "*No space left on device*The recording stopped; the file holds the $($summary.EventsRecorded) events written before."
            $failures[0].ErrorDetails.RecommendedAction | Should -BeLike '*Free some space*'
            $summary.State | Should -Be 'Failed'
            $summary.EventsRecorded | Should -BeGreaterThan 0
            $summary.EventsRecorded | Should -BeLessThan 75024
            $events = @(Import-UTrace $file -WarningAction SilentlyContinue -ErrorVariable readErrors)
            $readErrors | Should -BeNullOrEmpty
            $events.Count | Should -Be $summary.EventsRecorded
        }
        finally {
            umount $disk
        }
    }
}

Describe 'Start-UTrace -OutFile that cannot be written' -Skip:$noBpf {
    It 'fails before anything runs when <Case>' -ForEach @(
        @{ Case = 'the folder does not exist'; Folder = { Join-Path $TestDrive 'missing/folder' }; ErrorId = 'OutFileFolderNotFound'; Category = 'ObjectNotFound'; Message = '*its folder does not exist*' }
        @{ Case = 'the folder is read-only'; Folder = { $d = Join-Path $TestDrive 'ro'; New-Item -ItemType Directory $d | Out-Null; mount -t tmpfs -o ro,size=64k utrace-test $d; $d }; ErrorId = 'OutFileAccessDenied'; Category = 'PermissionDenied'; Message = '*Read-only file system*' }
    ) {
        $folder = & $Folder
        try {
            $marker = Join-Path $TestDrive "ran-$([guid]::NewGuid())"
            { Start-UTrace -Command "/usr/bin/touch $marker" -OutFile (Join-Path $folder 't.arrows') -ErrorAction Stop } |
                Should -Throw -ErrorId "$ErrorId,Utrace.PowerShell.StartUTraceCommand" -ExpectedMessage $Message
            $Error[0].CategoryInfo.Category | Should -Be $Category
            $Error[0].TargetObject | Should -Be (Join-Path $folder 't.arrows')
            Test-Path $marker | Should -BeFalse
        }
        finally {
            if ($Case -like '*read-only*') { umount $folder }
        }
    }

    It 'refuses a path that is not on the file system' {
        { Start-UTrace -Command "$Bin/fib 3" -OutFile 'env:NOPE' -ErrorAction Stop } |
            Should -Throw -ErrorId 'OutFileNotFileSystem,Utrace.PowerShell.StartUTraceCommand'
    }
}

Describe 'Start-UTrace -OutFile over what exists' -Skip:$noBpf {
    It 'never writes over a device, a folder or a program, and leaves them as they were (<Case>)' -ForEach @(
        @{ Case = '/dev/null'; Target = { '/dev/null' }; ErrorId = 'OutFileNotRegular' }
        @{ Case = 'a folder'; Target = { $TestDrive }; ErrorId = 'OutFileIsFolder' }
        @{ Case = 'the traced program'; Target = { $copy = Join-Path $TestDrive 'fib-copy'; Copy-Item "$Bin/fib" $copy; $copy }; ErrorId = 'OutFileIsProgram' }
    ) {
        $path = & $Target
        $before = (Get-Item $path -Force).UnixMode
        $command = if ($Case -eq 'the traced program') { "$path 3" } else { "$Bin/fib 3" }
        { Start-UTrace -Command $command -OutFile $path -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,Utrace.PowerShell.StartUTraceCommand"
        $Error[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        (Get-Item $path -Force).UnixMode | Should -Be $before
        if ($Case -eq 'the traced program') { & $path 3 | Should -Be 'fib(3) = 2' }
    }

    It 'leaves a file that exists untouched when the trace does not start' {
        $notes = Join-Path $TestDrive 'notes.txt'
        Set-Content $notes 'keep me'
        { Start-UTrace -Command "$Bin/fib 3" -Function no_such_function -OutFile $notes -ErrorAction Stop } |
            Should -Throw -ErrorId 'NoFunctionMatches,Utrace.PowerShell.StartUTraceCommand'
        Get-Content $notes | Should -Be 'keep me'
        (Get-Item $notes).UnixMode | Should -Be '-rw-r--r--'
    }

    It 'replaces a file that exists with the trace, keeping its owner, private as a new one' {
        $shared = Join-Path $TestDrive 'shared.arrows'
        Set-Content $shared ('an older, longer file than the trace will be' * 200)
        chmod 666 $shared
        chown nobody $shared
        Start-UTrace -Command "$Bin/fib 5" -Function fib -OutFile $shared | Out-Null
        @(Import-UTrace $shared).Count | Should -Be 15
        (Get-Item $shared).UnixMode | Should -Be '-rw-r-----'
        (Get-Item $shared).User | Should -Be 'nobody'
    }
}

Describe 'Import-UTrace paths' -Skip:$noBpf {
    BeforeAll {
        $script:Recorded = Join-Path $TestDrive 'fib.arrows'
        Start-UTrace -Command "$Bin/fib 5" -OutFile $Recorded
        $script:Count = @(Import-UTrace $Recorded).Count
    }

    It 'resolves ~, relative paths and PowerShell drives' {
        $inHome = Join-Path $HOME "utrace-test-$PID.arrows"
        Copy-Item $Recorded $inHome
        New-PSDrive -Name UtraceTest -PSProvider FileSystem -Root $TestDrive | Out-Null
        Push-Location $TestDrive
        try {
            @(Import-UTrace "~/utrace-test-$PID.arrows").Count | Should -Be $Count
            @(Import-UTrace ./fib.arrows).Count | Should -Be $Count
            @(Import-UTrace UtraceTest:/fib.arrows).Count | Should -Be $Count
        }
        finally {
            Pop-Location
            Remove-PSDrive UtraceTest
            Remove-Item $inHome
        }
    }

    It 'reads several files, by wildcard and by list, and literal paths from Get-ChildItem' {
        $folder = New-Item -ItemType Directory (Join-Path $TestDrive 'many')
        Copy-Item $Recorded (Join-Path $folder 'a.arrows')
        Copy-Item $Recorded (Join-Path $folder 'b[1].arrows')
        @(Import-UTrace (Join-Path $folder '*.arrows')).Count | Should -Be (2 * $Count)
        @(Import-UTrace $Recorded, $Recorded).Count | Should -Be (2 * $Count)
        @(Get-ChildItem $folder | Import-UTrace).Count | Should -Be (2 * $Count)
        @(Import-UTrace -LiteralPath (Join-Path $folder 'b[1].arrows')).Count | Should -Be $Count
    }

    It 'gives a clear error for <Case>' -ForEach @(
        @{ Case = 'a missing file'; Make = { Join-Path $TestDrive 'none.arrows' }; ErrorId = 'PathNotFound'; Category = 'ObjectNotFound'; Message = '*does not exist*' }
        @{ Case = 'a wildcard that matches nothing'; Make = { Join-Path $TestDrive 'none*.arrows' }; ErrorId = 'TraceFileNotFound'; Category = 'ObjectNotFound'; Message = 'No file matches*' }
        @{ Case = 'an empty file'; Make = { $p = Join-Path $TestDrive 'empty.arrows'; Set-Content $p -Value $null -NoNewline; $p }; ErrorId = 'InvalidTraceFile'; Category = 'InvalidData'; Message = '*is empty.' }
        @{ Case = 'random bytes'; Make = { $p = Join-Path $TestDrive 'random.arrows'; [IO.File]::WriteAllBytes($p, [byte[]](1..255 + 1..255)); $p }; ErrorId = 'InvalidTraceFile'; Category = 'InvalidData'; Message = '*is not a Utrace trace file*' }
        @{ Case = 'a path on another provider'; Make = { 'env:PATH' }; ErrorId = 'TraceFileNotFileSystem'; Category = 'InvalidArgument'; Message = '*is not a file-system path*' }
    ) {
        $path = & $Make
        $events = @(Import-UTrace $path -ErrorVariable failures -ErrorAction SilentlyContinue)
        $events.Count | Should -Be 0
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be "$ErrorId,Utrace.PowerShell.ImportUTraceCommand"
        $failures[0].CategoryInfo.Category | Should -Be $Category
        "$($failures[0])" | Should -BeLike $Message
    }

    It 'reads a file cut inside a batch up to the cut, with a warning' {
        $cut = Join-Path $TestDrive 'cut.arrows'
        Copy-Item $Recorded $cut
        $stream = [IO.File]::OpenWrite($cut)
        $stream.SetLength($stream.Length - 100)
        $stream.Dispose()
        $events = @(Import-UTrace $cut -WarningVariable warnings -WarningAction SilentlyContinue -ErrorVariable failures)
        # One batch only: nothing before the cut.
        $events.Count | Should -Be 0
        $failures | Should -BeNullOrEmpty
        "$warnings" | Should -BeLike '*was cut short*0 events were read*'
    }
}

Describe 'Readers nobody here wrote' -Skip:$noBpf {
    BeforeAll {
        $script:NodeDir = (Resolve-Path (Join-Path $PSScriptRoot '../node')).Path
        $dependencies = (Get-Content (Join-Path $NodeDir 'package.json') | ConvertFrom-Json).dependencies.PSObject.Properties.Name
        if ($dependencies | Where-Object { -not (Test-Path (Join-Path $NodeDir "node_modules/$_")) }) {
            npm ci --prefix $NodeDir --no-audit --no-fund | Out-Host
        }
        $script:Traced = Join-Path $TestDrive 'node.arrows'
        Start-UTrace -Command "$Bin/threads" -OutFile $Traced
        $script:Events = @(Import-UTrace $Traced)
        # Calls per function as Measure-UTrace counts them, as 'name=calls' in name order.
        $script:MeasuredCalls = ($Events | Measure-UTrace | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls)" }) -join ' '
    }

    It 'apache-arrow under node finds the rows, durations, names and units Utrace finds' {
        $seen = node (Join-Path $NodeDir 'read-trace.mjs') $Traced | ConvertFrom-Json
        $LASTEXITCODE | Should -Be 0
        $seen.rows | Should -Be $Events.Count
        # raw_duration holds the measured durations; probe_cost what the probes took of them.
        [long]$seen.durationSum | Should -Be ($Events | Measure-Object RawDurationNs -Sum).Sum
        $seen.calls.work | Should -Be 4000
        $seen.formatVersion | Should -Be '2.0'
        $seen.columns -join ',' | Should -Be ('function:Utf8,module:Utf8,program:Utf8,caller:Utf8,host:Utf8,function_id:Int32,caller_id:Int32,pid:Int32,tid:Int32,depth:Int32,' +
            'start:Timestamp<NANOSECOND, UTC>,start_ns:Uint64,kind:Utf8,duration:Duration<NANOSECOND>,self_duration:Duration<NANOSECOND>,raw_duration:Duration<NANOSECOND>,' +
            'raw_self_duration:Duration<NANOSECOND>,probe_cost:Duration<NANOSECOND>,self_probe_cost:Duration<NANOSECOND>,calls_inside:Int32,on_cpu:Duration<NANOSECOND>,raw_on_cpu:Duration<NANOSECOND>')
        $seen.units.duration | Should -Be 'ns'
    }

    It '<Reader> groups a trace file by its function column to the calls Measure-UTrace counts, with no metadata' -ForEach @(
        @{ Reader = 'apache-arrow'; Snippet = 'arrow-calls.mjs' }
        @{ Reader = 'nodejs-polars'; Snippet = 'polars-calls.mjs' }
    ) {
        $seen = node (Join-Path $NodeDir "snippets/$Snippet") $Traced | ConvertFrom-Json
        $LASTEXITCODE | Should -Be 0
        # The polars snippet gives rows; the arrow one an object of counts.
        $counts = if ($seen -is [array]) { $seen | ForEach-Object { "$($_.function)=$($_.calls)" } } else { $seen.PSObject.Properties | ForEach-Object { "$($_.Name)=$($_.Value)" } }
        ($counts | Sort-Object) -join ' ' | Should -Be $MeasuredCalls
    }

    It 'nodejs-polars reads a file whose function table grew while it was written (dlopen)' {
        $library = Join-Path $FixtureBin 'shared/libgreet.so'
        $dlopened = Join-Path $TestDrive 'dlopen.arrows'
        Start-UTrace -Command "$(Join-Path $FixtureBin 'gcc-O0-nopie')/dlopener $library" -NestLibrary 'libgreet*' -Function 'greet*' -OutFile $dlopened | Out-Null
        $seen = node (Join-Path $NodeDir 'snippets/polars-calls.mjs') $dlopened | ConvertFrom-Json
        ($seen | ForEach-Object { "$($_.function)=$($_.calls)" }) -join ' ' | Should -Be 'greet=5 greet_helper=10'
    }

    It 'DuckDB reads an Export-UTrace Parquet file: calls and sum(duration) per function are Measure-UTrace''s Calls and TotalNs' {
        $parquet = Join-Path $TestDrive 'threads.parquet'
        Import-UTrace $Traced | Export-UTrace $parquet
        $rows = node (Join-Path $NodeDir 'snippets/duckdb-calls.mjs') $parquet | ConvertFrom-Json
        $LASTEXITCODE | Should -Be 0
        # No traced function of threads is recursive: Measure-UTrace's Total is then the plain sum of the durations.
        ($rows | ForEach-Object { "$($_.function)=$($_.calls) $($_.total_ns)" }) -join ', ' |
            Should -Be (($Events | Measure-UTrace | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Calls) $($_.TotalNs)" }) -join ', ')
    }

    It 'DuckDB sums every call of a recursive function, as Calls times Measure-UTrace''s Average (Total counts its outermost calls)' {
        $parquet = Join-Path $TestDrive 'fib'
        Import-UTrace (Join-Path $PSScriptRoot '../fixtures/traces/fib5-format-1.3.arrow') | Export-UTrace -Path $parquet -Format Parquet
        $rows = node (Join-Path $NodeDir 'snippets/duckdb-calls.mjs') $parquet | ConvertFrom-Json
        $fib = Measure-UTrace -Path (Join-Path $PSScriptRoot '../fixtures/traces/fib5-format-1.3.arrow') | Where-Object Function -EQ fib
        $row = $rows | Where-Object function -EQ fib
        "$($row.calls) $($row.total_ns)" | Should -Be '15 117286'
        [math]::Round($row.total_ns / $row.calls) | Should -Be $fib.AverageNs
        $fib.TotalNs | Should -Be 33394
    }

    It 'docs/trace-format.md shows the node snippets the tests run, unchanged' {
        $doc = Get-Content -Raw (Join-Path $PSScriptRoot '../../docs/trace-format.md')
        foreach ($snippet in Get-ChildItem (Join-Path $NodeDir 'snippets') -Filter *.mjs) {
            $code = (Get-Content -Raw $snippet.FullName).TrimEnd()
            $doc.Contains("``````js`n$code`n``````") | Should -BeTrue -Because "the doc shows tests/node/snippets/$($snippet.Name) as it is"
        }
    }
}

Describe 'Export-UTrace' -Skip:$noBpf {
    BeforeAll {
        $script:Recorded = Join-Path $TestDrive 'fib.arrows'
        $script:Live = @(Start-UTrace -Command "$Bin/fib 8" -Function main, fib -Capture @{ fib = 'int -> int' } -OutFile $Recorded -PassThru)
    }

    It 'writes <Case> that Import-UTrace reads back with every property' -ForEach @(
        @{ Case = 'the calls of a trace file'; Make = { Import-UTrace $Recorded } }
        @{ Case = 'live calls'; Make = { $Live } }
        @{ Case = 'Get-ChildItem''s trace files'; Make = { Get-Item $Recorded } }
    ) {
        $exported = Join-Path $TestDrive 'exported.arrows'
        & $Make | Export-UTrace $exported
        $read = @(Import-UTrace $exported)
        $read.Count | Should -Be $Live.Count
        Format-Event $read | Should -Be (Format-Event $Live)
    }

    It 'writes calls deserialized by Import-Clixml with every property but the captured values, which a deserialized call holds only as text' {
        $xml = Join-Path $TestDrive 'calls.xml'
        $exported = Join-Path $TestDrive 'deserialized.arrows'
        Import-UTrace $Recorded | Export-Clixml $xml
        Import-Clixml $xml | Export-UTrace $exported
        $uncaptured = $Properties | Where-Object { $_ -notin 'Arguments', 'ReturnValue' }
        $read = @(Import-UTrace $exported)
        $read | Select-Object $uncaptured | ConvertTo-Csv | Should -Be ($Live | Select-Object $uncaptured | ConvertTo-Csv)
    }

    It 'writes a filtered subset, with the function table (and ids) of the trace it came from' {
        $subset = Join-Path $TestDrive 'subset.arrows'
        Import-UTrace $Recorded | Where-Object Depth -LE 1 | Export-UTrace -LiteralPath $subset
        $read = @(Import-UTrace $subset)
        Format-Event $read | Should -Be (Format-Event ($Live | Where-Object Depth -LE 1))
        $source = [Utrace.TraceFile]::Open($Recorded)
        $exported = [Utrace.TraceFile]::Open($subset)
        try {
            $exported.Context.Functions.Name -join ',' | Should -Be ($source.Context.Functions.Name -join ',')
        }
        finally {
            $source.Dispose(); $exported.Dispose()
        }
    }

    It 'writes Parquet by the .parquet extension, with the trace file''s columns' {
        $parquet = Join-Path $TestDrive 'fib.parquet'
        Import-UTrace $Recorded | Export-UTrace $parquet
        [IO.File]::ReadAllBytes($parquet)[0..3] | Should -Be ([byte[]][char[]]'PAR1')
        { Import-UTrace $parquet -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidTraceFile,Utrace.PowerShell.ImportUTraceCommand'
    }

    It 'refuses, with a clear error, <Case>' -ForEach @(
        @{ Case = 'a file that exists, with -NoClobber'; Path = { $p = Join-Path $TestDrive 'kept.arrows'; Set-Content $p 'x'; $p }; Extra = @{ NoClobber = $true }; ErrorId = 'NoClobber'; Category = 'ResourceExists' }
        @{ Case = 'a folder'; Path = { $TestDrive }; Extra = @{}; ErrorId = 'OutFileIsFolder'; Category = 'InvalidArgument' }
        @{ Case = 'a device'; Path = { '/dev/null' }; Extra = @{}; ErrorId = 'OutFileNotRegular'; Category = 'InvalidArgument' }
        @{ Case = 'a program'; Path = { $p = Join-Path $TestDrive 'prog'; Copy-Item "$Bin/fib" $p; $p }; Extra = @{}; ErrorId = 'OutFileIsProgram'; Category = 'InvalidArgument' }
    ) {
        $path = & $Path
        $before = if (Test-Path $path -PathType Leaf) { (Get-FileHash $path).Hash }
        $failure = $null
        try { $Live | Export-UTrace $path @Extra } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be "$ErrorId,Utrace.PowerShell.ExportUTraceCommand"
        $failure.CategoryInfo.Category | Should -Be $Category
        $failure.TargetObject | Should -Be $path
        $failure.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        if ($before) { (Get-FileHash $path).Hash | Should -Be $before }
    }

    It 'replaces a read-only file with -Force, as Export-Csv does' {
        $file = Join-Path $TestDrive 'readonly.arrows'
        Set-Content $file 'old'
        chmod 0444 $file
        $Live | Export-UTrace $file -Force
        @(Import-UTrace $file).Count | Should -Be $Live.Count
    }

    It 'writes an empty trace when no call comes' {
        $empty = Join-Path $TestDrive 'empty.arrows'
        @() | Export-UTrace $empty
        @(Import-UTrace $empty -WarningVariable warnings).Count | Should -Be 0
        $warnings | Should -BeNullOrEmpty
    }
}
