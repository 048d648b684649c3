# The report cmdlets on real traces of the fixtures: expectations are derived from the
# CallEvents themselves (counts, durations, callers), never from the report code.
BeforeDiscovery {
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $dir = Join-Path $FixtureBin 'gcc-O2-pie'
    $fib = @(Start-UTrace -Command "$dir/fib 10")
    $chain = @(Start-UTrace -Command "$dir/chain" -WarningAction SilentlyContinue)
    $threads = @(Start-UTrace -Command "$dir/threads")
    $ordinal = [System.StringComparer]::Ordinal

    # Sum of the durations of the outermost calls: the traced time percentages are of.
    function Get-TracedNs($Events) { ($Events | Where-Object Depth -EQ 0 | Measure-Object DurationNs -Sum).Sum }

    function ConvertTo-OrdinalOrder([string[]] $Lines) { [System.Linq.Enumerable]::ToArray([System.Linq.Enumerable]::Order($Lines, $ordinal)) }

    # Counts the pixels of one colour in a PNG (8-bit RGB or RGBA), decoded by python's zlib.
    function Get-PixelCount([string] $Png, [int[]] $Rgb) {
        $script = @'
import sys, struct, zlib
data = open(sys.argv[1], 'rb').read()
pos, chunks = 8, {}
while pos < len(data):
    size, kind = struct.unpack('>I4s', data[pos:pos + 8])
    chunks.setdefault(kind, []).append(data[pos + 8:pos + 8 + size])
    pos += 12 + size
width, height, depth, ctype = struct.unpack('>IIBB', chunks[b'IHDR'][0][:10])
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride, prev, count = zlib.decompress(b''.join(chunks[b'IDAT'])), width * bpp, bytearray(width * bpp), 0
want = tuple(int(v) for v in sys.argv[2:5])
for y in range(height):
    kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if kind == 1: line[i] = (line[i] + a) & 255
        elif kind == 2: line[i] = (line[i] + b) & 255
        elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    count += sum(1 for x in range(width) if tuple(line[x * bpp:x * bpp + 3]) == want)
    prev = line
print(count)
'@
        [int](python3 -c $script $Png @Rgb)
    }

    function Invoke-Chromium([string[]] $Arguments) {
        if (-not (Get-Command chromium -ErrorAction SilentlyContinue)) { throw 'chromium is not installed: scripts/install-deps.sh installs it.' }
        & chromium --headless --no-sandbox --disable-gpu @Arguments 2>$null
    }
}

Describe 'Measure-UTrace' -Skip:$noBpf {
    It 'summarizes fib(10): 177 calls of fib, Total counted once for the recursion' {
        $summary = @($fib | Measure-UTrace)
        $fibCalls = @($fib | Where-Object Function -EQ 'fib')
        $row = $summary | Where-Object Function -EQ 'fib'
        $row.Calls | Should -Be 177
        $row.Module | Should -Be 'fib'
        $row.Total.Nanoseconds | Should -Be ($fibCalls | Where-Object Depth -EQ 1).DurationNs
        $row.Self.Nanoseconds | Should -Be ($fibCalls | Measure-Object SelfNs -Sum).Sum
        $row.Min.Nanoseconds | Should -Be ($fibCalls | Measure-Object DurationNs -Minimum).Minimum
        $row.Max.Nanoseconds | Should -Be ($fibCalls | Measure-Object DurationNs -Maximum).Maximum
        $row.Average.Nanoseconds | Should -Be ([long][math]::Truncate(($fibCalls | Measure-Object DurationNs -Sum).Sum / 177))
        $traced = Get-TracedNs $fib
        $row.TotalPercent | Should -Be ([math]::Round(100.0 * $row.Total.Nanoseconds / $traced, 2))
        $main = $summary | Where-Object Function -EQ 'main'
        $main.Calls | Should -Be 1
        $main.TotalPercent | Should -Be ([math]::Round(100.0 * ($fib | Where-Object Function -EQ 'main').DurationNs / $traced, 2))
        ($summary.Function | Sort-Object) -join ',' | Should -Be (($fib.Function | Sort-Object -Unique) -join ',')
        # Self times add up to the traced time, but for calls whose probes' estimate exceeds their measured time (clamped at 0).
        $selfSum = ($fib | Measure-Object SelfNs -Sum).Sum
        [math]::Abs(($summary | Measure-Object SelfPercent -Sum).Sum - 100.0 * $selfSum / $traced) | Should -BeLessOrEqual (0.005 * $summary.Count)
        $totals = $summary.Total.Nanoseconds
        ($totals -join ',') | Should -Be (($totals | Sort-Object -Descending) -join ',')
        # Export-Csv keeps the figures as integers too.
        $csv = Join-Path $TestDrive 'summary.csv'
        $summary | Export-Csv $csv
        $exported = Import-Csv $csv | Where-Object Function -EQ 'fib'
        "$($exported.TotalNs) $($exported.SelfNs) $($exported.AverageNs) $($exported.MinNs) $($exported.MaxNs)" |
            Should -Be "$($row.Total.Nanoseconds) $($row.Self.Nanoseconds) $($row.Average.Nanoseconds) $($row.Min.Nanoseconds) $($row.Max.Nanoseconds)"
    }

    It 'summarizes each of the 4 worker threads apart with -ByThread' {
        $rows = @($threads | Measure-UTrace -ByThread | Where-Object Function -EQ 'work')
        $rows.Count | Should -Be 4
        $rows.Calls | Should -Be @(1000, 1000, 1000, 1000)
        ($rows.ThreadId | Sort-Object) -join ',' | Should -Be (($threads | Where-Object Function -EQ 'work' | Select-Object -ExpandProperty ThreadId -Unique | Sort-Object) -join ',')
        foreach ($row in $rows) {
            # Each worker thread's outermost call is run(), which calls work() 1000 times.
            $run = $threads | Where-Object { $_.ThreadId -eq $row.ThreadId -and $_.Depth -eq 0 }
            $run.Function | Should -Be 'run'
            # The probes' cost taken out, run() may be left no time of its own on a busy machine: a percentage of nothing is 0.
            $row.TotalPercent | Should -Be ($run.DurationNs -eq 0 ? 0 : [math]::Round(100.0 * $row.Total.Nanoseconds / $run.DurationNs, 2))
        }
        ($threads | Measure-UTrace | Where-Object Function -EQ 'work').Calls | Should -Be 4000
    }

    It 'gives the same summary for CallEvents read back with Import-Clixml, and for bags of their properties' {
        $file = Join-Path $TestDrive 'fib.clixml'
        $fib | Export-Clixml -Path $file
        $back = Import-Clixml -Path $file
        $back[0] | Should -BeOfType Utrace.CallEvent
        # What SSH remoting delivers (tests/pester/Fleet.Tests.ps1): properties, no CallEvent behind them.
        $bags = $fib | Select-Object *
        $bags[0].PSObject.BaseObject | Should -BeOfType System.Management.Automation.PSCustomObject
        $properties = 'Function', 'Module', 'ThreadId', 'Calls', 'Total', 'Self', 'Average', 'Min', 'Max', 'TotalPercent', 'SelfPercent'
        $expected = ($fib | Measure-UTrace | Select-Object $properties | ConvertTo-Csv) -join "`n"
        ($back | Measure-UTrace | Select-Object $properties | ConvertTo-Csv) -join "`n" | Should -Be $expected
        ($bags | Measure-UTrace | Select-Object $properties | ConvertTo-Csv) -join "`n" | Should -Be $expected
    }

    It 'refuses what is not a CallEvent with a clear error, and goes on' {
        $rows = @(@(42) + $chain | Measure-UTrace -ErrorVariable problems -ErrorAction SilentlyContinue)
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'InputNotCallEvent,Utrace.PowerShell.MeasureUTraceCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidType'
        $problems[0].TargetObject | Should -Be 42
        $problems[0].ErrorDetails.RecommendedAction | Should -Match 'Start-UTrace'
        ($rows | Where-Object Function -EQ 'usleep').Calls | Should -Be 2
    }
}

Describe 'ConvertTo-UTraceFlameGraph -Format Folded' -Skip:$noBpf {
    It 'folds fib(10) into one line per depth of the recursion' {
        $expected = $fib | Group-Object { if ($_.Function -eq 'fib') { 'main' + (';fib' * $_.Depth) } elseif ($_.Depth -eq 1) { "main;$($_.Function)" } else { $_.Function } } |
            ForEach-Object { '{0} {1}' -f $_.Name, ($_.Group | Measure-Object SelfNs -Sum).Sum } | Where-Object { $_ -notmatch ' 0$' }
        $folded = @($fib | ConvertTo-UTraceFlameGraph -Format Folded)
        $folded | Should -Be (ConvertTo-OrdinalOrder $expected)
        # One line per depth of the recursion, but for a depth whose calls are all probes (no self time left).
        @($folded -match '^main(;fib)+ ').Count | Should -Be @($expected -match '^main(;fib)+ ').Count
        @($folded -match '^main(;fib)+ ').Count | Should -BeLessOrEqual 10
    }

    It 'folds main -> a -> b -> c with the two usleep calls under their own callers' {
        $path = @{}
        foreach ($call in $chain | Sort-Object Depth) {
            $path[$call.Function + "@$($call.Depth)"] = if ($call.Caller) { $path[$call.Caller + "@$($call.Depth - 1)"] + ';' + $call.Function } else { $call.Function }
        }
        # A stack without self time (all of it the probes') has no line.
        $expected = $chain | Where-Object SelfNs -gt 0 | ForEach-Object { '{0} {1}' -f $path[$_.Function + "@$($_.Depth)"], $_.SelfNs }
        $folded = @($chain | ConvertTo-UTraceFlameGraph -Format Folded)
        $folded | Should -Be (ConvertTo-OrdinalOrder $expected)
        $folded -match '^main;a;b;c;usleep \d+$' | Should -HaveCount 1
        $folded -match '^main;a;b;usleep \d+$' | Should -HaveCount 1
    }
}

Describe 'ConvertTo-UTraceCallGraph' -Skip:$noBpf {
    It 'writes main -> a -> b -> c nested, with closers, durations and the thread id' {
        $call = @{}
        $chain | ForEach-Object { $call[$_.Function + "@$($_.Depth)"] = $_ }
        $tid = $chain[0].ThreadId
        function Format-GraphLine($Duration, [string] $Text) { '{0,10} [{1,6}] | {2}' -f $Duration, $tid, $Text }
        $lines = @($chain | ConvertTo-UTraceCallGraph)
        $lines[0] | Should -Be '# DURATION      TID   FUNCTION'
        $lines[1..10] | Should -Be @(
            (Format-GraphLine '' 'main() {'), (Format-GraphLine '' '  a() {'), (Format-GraphLine '' '    b() {'),
            (Format-GraphLine $call['usleep@3'].Duration '      usleep();'), (Format-GraphLine '' '      c() {'),
            (Format-GraphLine $call['usleep@4'].Duration '        usleep();'), (Format-GraphLine $call['c@3'].Duration '      } /* c */'),
            (Format-GraphLine $call['b@2'].Duration '    } /* b */'), (Format-GraphLine $call['a@1'].Duration '  } /* a */'),
            (Format-GraphLine $call['main@0'].Duration '} /* main */'))
    }

    It 'nests calls traced entry-only (reported at entry, no duration) in the order they came, and the flame graph says why it is empty' {
        $entries = @(Start-UTrace -Command "$dir/chain" -ReturnMode EntryOnly -Function main, a, b, c)
        @($entries | ConvertTo-UTraceCallGraph)[1..7] | ForEach-Object { $_ -replace '^ +\[ *\d+\] \| ' } |
            Should -Be @('main() {', '  a() {', '    b() {', '      c();', '    } /* b */', '  } /* a */', '} /* main */')
        $folded = @($entries | ConvertTo-UTraceFlameGraph -Format Folded -WarningVariable warned -WarningAction SilentlyContinue)
        $folded.Count | Should -Be 0
        "$($warned[0])" | Should -BeLike 'No call has a duration (traced entry-only*'
    }

    It 'writes an outermost call''s tree as soon as that call arrives, not at the end' {
        $pipeline = { ConvertTo-UTraceCallGraph -Timestamp }.GetSteppablePipeline()
        $pipeline.Begin($true)
        $written = foreach ($event in $chain) {
            # The header comes out with the first call; count the lines of calls only.
            [pscustomobject]@{ Function = $event.Function; Depth = $event.Depth; Lines = @($pipeline.Process($event) -notlike '#*').Count }
        }
        $remaining = @($pipeline.End())
        $pipeline.Dispose()
        foreach ($call in $written | Where-Object Depth -GT 0) { $call.Lines | Should -Be 0 -Because "$($call.Function) returns inside main" }
        ($written | Where-Object Function -EQ 'main').Lines | Should -Be 10
        $remaining.Count | Should -Be 0
    }

    It 'writes a flat list of every call in entry order' {
        $lines = @($chain | ConvertTo-UTraceCallGraph -Flat)
        $lines.Count | Should -Be ($chain.Count + 1)
        ($lines[1..($lines.Count - 1)] | ForEach-Object { ($_ -split '\s+')[-1] }) -join ',' |
            Should -Be (($chain | Sort-Object StartNs | ForEach-Object Function) -join ',')
    }
}

Describe 'ConvertTo-UTraceChromeTrace' -Skip:$noBpf {
    It 'writes JSON with one complete event per call, the same total time and every thread named' {
        $json = ($threads | ConvertTo-UTraceChromeTrace) -join "`n" | ConvertFrom-Json
        $complete = @($json | Where-Object ph -EQ 'X')
        $complete.Count | Should -Be $threads.Count
        # dur is in us with ns precision; JSON numbers come back as doubles: compare whole ns per event.
        ($complete | ForEach-Object { [long][math]::Round([double]$_.dur * 1000) } | Measure-Object -Sum).Sum |
            Should -Be (($threads | Measure-Object RawDurationNs -Sum).Sum)
        $threadNames = @($json | Where-Object { $_.ph -eq 'M' -and $_.name -eq 'thread_name' })
        ($threadNames.tid | Sort-Object) -join ',' | Should -Be (($threads.ThreadId | Sort-Object -Unique) -join ',')
        ($json | Where-Object { $_.ph -eq 'M' -and $_.name -eq 'process_name' }).args.name | Should -Be "threads ($($threads[0].ProcessId))"
    }

    It 'gives events no args unless -IncludeArguments, which adds self time and depth' {
        $plain = @(($chain | ConvertTo-UTraceChromeTrace) -join "`n" | ConvertFrom-Json | Where-Object ph -EQ 'X')
        @($plain | Where-Object { $_.PSObject.Properties['args'] }).Count | Should -Be 0
        $main = $chain | Where-Object Function -EQ 'main'
        $withArgs = ($chain | ConvertTo-UTraceChromeTrace -IncludeArguments) -join "`n" | ConvertFrom-Json | Where-Object name -EQ 'main'
        "$($withArgs.args.depth) $([long][math]::Round([double]$withArgs.args.self_us * 1000))" | Should -Be "0 $($main.SelfNs)"
    }

    It 'nests every call of fib(10) inside exactly one call one level up' {
        $complete = @(($fib | ConvertTo-UTraceChromeTrace -IncludeArguments) -join "`n" | ConvertFrom-Json | Where-Object ph -EQ 'X')
        $complete.Count | Should -Be $fib.Count
        foreach ($inner in $complete | Where-Object { $_.args.depth -gt 0 }) {
            $outer = @($complete | Where-Object { $_.args.depth -eq $inner.args.depth - 1 -and [decimal]$_.ts -le [decimal]$inner.ts -and
                    [decimal]$_.ts + [decimal]$_.dur -ge [decimal]$inner.ts + [decimal]$inner.dur })
            $outer.Count | Should -Be 1 -Because "$($inner.name) at $($inner.ts) us has one enclosing call"
        }
    }
}

Describe 'The speedscope app in headless Chromium' -Skip:$noBpf {
    BeforeAll {
        $nodeDir = (Resolve-Path (Join-Path $PSScriptRoot '../node')).Path
        if (-not (Test-Path (Join-Path $nodeDir 'node_modules/speedscope'))) {
            npm ci --prefix $nodeDir --no-audit --no-fund | Out-Host
        }
        # speedscope's Sandwich view of a profile file: one row per frame it tells apart.
        function Get-SandwichRow([string] $File) { node (Join-Path $nodeDir 'speedscope-sandwich.mjs') $File | ConvertFrom-Json }
        $summary = @($chain | Measure-UTrace)
    }

    It 'shows one Sandwich row per function of a Chrome trace, with the measured self time' {
        $file = Join-Path $TestDrive 'chain.json'
        $chain | ConvertTo-UTraceChromeTrace | Set-Content $file
        $rows = @(Get-SandwichRow $file)
        ($rows.name | Sort-Object) -join ',' | Should -Be (($summary.Function | Sort-Object) -join ',')
        $units = @{ s = 1e9; ms = 1e6; 'µs' = 1e3; ns = 1 }
        foreach ($row in $rows) {
            # speedscope prints times to two decimals of the largest unit that fits: equal to that precision.
            $row.self -match '^([\d.]+)(s|ms|µs|ns)$' | Should -BeTrue -Because "$($row.name) shows '$($row.self)'"
            $unit = $units[$Matches[2]]
            # The timeline keeps the measured durations (probes included), so that callees nest.
            $expected = ($chain | Where-Object Function -EQ $row.name | Measure-Object RawSelfNs -Sum).Sum
            [math]::Abs([double]$Matches[1] * $unit - $expected) | Should -BeLessOrEqual (0.005 * $unit + 1) -Because "$($row.name) shows $($row.self)"
        }
    }

    It 'shows one Sandwich row per function of the folded stacks, with Measure-UTrace''s self time to the ns' {
        $file = Join-Path $TestDrive 'chain.folded'
        $chain | ConvertTo-UTraceFlameGraph -Format Folded | Set-Content $file
        $shown = Get-SandwichRow $file | Sort-Object name | ForEach-Object { "$($_.name)=$($_.self)" }
        $shown -join ',' | Should -Be (($summary | Sort-Object Function | ForEach-Object { "$($_.Function)=$($_.Self.Nanoseconds.ToString('N0', [cultureinfo]'en-US'))" }) -join ',')
    }
}

Describe 'ConvertTo-UTracePerfetto' -Skip:$noBpf {
    BeforeAll {
        if (-not (Get-Command protoc -ErrorAction SilentlyContinue)) { throw 'protoc is not installed: scripts/install-deps.sh installs it (protobuf-compiler).' }

        # The packets of a Perfetto trace as protoc --decode_raw reads them (it knows no Utrace code
        # and no Perfetto schema): one table per packet, field paths such as '11.9' (track_event.type).
        function Read-PerfettoPacket([string] $File) {
            $packet, $path = $null, [System.Collections.Generic.List[string]]::new()
            foreach ($line in (bash -c 'protoc --decode_raw < "$1"' protoc $File)) {
                $line = $line.Trim()
                if ($line -match '^(\d+) \{$') {
                    if ($path.Count -eq 0) { $packet = @{} }
                    $path.Add($Matches[1])
                } elseif ($line -eq '}') {
                    $path.RemoveAt($path.Count - 1)
                    if ($path.Count -eq 0) { $packet }
                } elseif ($line -match '^(\d+): (.*)$') {
                    $key = ($path.GetRange(1, $path.Count - 1) + $Matches[1]) -join '.'
                    if (-not $packet.ContainsKey($key)) { $packet[$key] = [System.Collections.Generic.List[string]]::new() }
                    $packet[$key].Add($Matches[2])
                }
            }
        }

        # Slices per thread id, names, timestamps: what a viewer would draw.
        function Get-PerfettoSlice($Packets) {
            $tids = @{}
            foreach ($p in $Packets | Where-Object { $_['60.4.2'] }) { $tids[$p['60.1'][0]] = [int]$p['60.4.2'][0] }
            $names = @{}
            foreach ($p in $Packets | Where-Object { $_['12.2.1'] }) {
                for ($i = 0; $i -lt $p['12.2.1'].Count; $i++) { $names[$p['12.2.1'][$i]] = $p['12.2.2'][$i].Trim('"') }
            }
            foreach ($p in $Packets | Where-Object { $_['11.9'] }) {
                [pscustomobject]@{
                    ThreadId = $tids[$p['11.11'][0]]; Type = [int]$p['11.9'][0]; Timestamp = [decimal]$p['8'][0]
                    Name = if ($p['11.10']) { $names[$p['11.10'][0]] } else { $null }
                }
            }
        }
    }

    It 'writes one begin and one end slice per call on each thread''s track, named, in time order, smaller than the Chrome JSON' {
        $file = Join-Path $TestDrive 'threads.pftrace'
        $written = $threads | ConvertTo-UTracePerfetto -OutFile $file
        $written | Should -BeOfType System.IO.FileInfo
        $written.FullName | Should -Be $file
        $slices = @(Get-PerfettoSlice @(Read-PerfettoPacket $file))
        $expected = $threads | Group-Object ThreadId | Sort-Object { [int]$_.Name } | ForEach-Object { "$($_.Name)=$($_.Count)" }
        $slices | Where-Object Type -EQ 1 | Group-Object ThreadId | Sort-Object { [int]$_.Name } | ForEach-Object { "$($_.Name)=$($_.Count)" } |
            Should -Be $expected
        $slices | Where-Object Type -EQ 2 | Group-Object ThreadId | Sort-Object { [int]$_.Name } | ForEach-Object { "$($_.Name)=$($_.Count)" } |
            Should -Be $expected
        ($slices | Where-Object Type -EQ 1 | Group-Object Name | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ',' |
            Should -Be (($threads | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ',')
        foreach ($track in $slices | Group-Object ThreadId) {
            $times = $track.Group.Timestamp
            ($times -join ',') | Should -Be (($times | Sort-Object) -join ',') -Because "thread $($track.Name) is in time order"
            # Begins and ends pair up: never more ends than begins so far.
            $open = 0
            foreach ($slice in $track.Group) { $open += if ($slice.Type -eq 1) { 1 } else { -1 }; $open | Should -BeGreaterOrEqual 0 }
            $open | Should -Be 0
        }
        $json = Join-Path $TestDrive 'threads.json'
        $threads | ConvertTo-UTraceChromeTrace | Set-Content $json
        (Get-Item $file).Length | Should -BeLessThan (Get-Item $json).Length
    }

    It 'nests fib(10): each begin at the start of its call, each end at its return' {
        $file = Join-Path $TestDrive 'fib.pftrace'
        $null = $fib | ConvertTo-UTracePerfetto -OutFile $file
        $slices = @(Get-PerfettoSlice @(Read-PerfettoPacket $file))
        $start = $fib[0].Start.UnixNanoseconds - $fib[0].StartNs
        $expected = foreach ($call in $fib) { "B $($start + $call.StartNs)"; "E $($start + $call.StartNs + $call.RawDurationNs)" }
        ($slices | ForEach-Object { "$(if ($_.Type -eq 1) { 'B' } else { 'E' }) $($_.Timestamp)" } | Sort-Object) -join ',' |
            Should -Be (($expected | Sort-Object) -join ',')
        ($slices | Where-Object Type -EQ 1 | Select-Object -First 1).Name | Should -Be 'main'
    }

    It 'writes calls traced entry-only as instants' {
        $entries = @(Start-UTrace -Command "$dir/chain" -ReturnMode EntryOnly -Function main, a, b, c)
        $file = Join-Path $TestDrive 'entries.pftrace'
        $null = $entries | ConvertTo-UTracePerfetto -OutFile $file
        $slices = @(Get-PerfettoSlice @(Read-PerfettoPacket $file))
        ($slices | ForEach-Object { "$($_.Type) $($_.Name)" }) -join ',' | Should -Be (($entries | Sort-Object StartNs | ForEach-Object { "3 $($_.Function)" }) -join ',')
    }

    It 'refuses an -OutFile it cannot create, with a hint' {
        { $fib | ConvertTo-UTracePerfetto -OutFile (Join-Path $TestDrive 'no/such/dir/x.pftrace') } | Should -Throw -ErrorId 'OutFileNotWritable,Utrace.PowerShell.ConvertToUTracePerfettoCommand'
    }
}

Describe 'ConvertTo-UTraceFlameGraph -Format Svg in a browser' -Skip:$noBpf {
    It 'is drawn by headless Chromium with every expected frame, and searches' {
        $svg = Join-Path $TestDrive 'fib.svg'
        $fib | ConvertTo-UTraceFlameGraph -Title 'fib 10' | Set-Content -Path $svg
        [xml] $document = Get-Content -Raw $svg

        # The page's script ran: the search from the URL marked fib's share of the time.
        $dom = (Invoke-Chromium @('--dump-dom', "file://$($svg)?s=^fib`$")) -join "`n"
        $dom | Should -Match 'data-ready="true"'
        # The flame graph is drawn from self times: fib's frame holds the self times of every fib call.
        $fibShare = 100.0 * ($fib | Where-Object Function -EQ 'fib' | Measure-Object SelfNs -Sum).Sum / ($fib | Measure-Object SelfNs -Sum).Sum
        [double]([regex]::Match($dom, 'data-matched="([0-9.]+)"').Groups[1].Value) | Should -BeGreaterOrEqual ([math]::Round($fibShare, 2) - 0.01)
        [double]([regex]::Match($dom, 'data-matched="([0-9.]+)"').Groups[1].Value) | Should -BeLessOrEqual ([math]::Round($fibShare, 2) + 0.01)
        $dom | Should -Match 'Matched: '

        # The screenshot shows main's frame across the whole width and fib's frames in their colour.
        $png = Join-Path $TestDrive 'fib.png'
        $height = [int]$document.svg.height
        Invoke-Chromium @("--screenshot=$png", "--window-size=1200,$height", "file://$svg") | Out-Null
        $frames = @{}
        foreach ($g in $document.svg.g.g) { $frames[($g.title -replace ' \([^()]*\)$', '')] = $g }
        $frames.Keys -contains 'main' | Should -BeTrue
        # A frame per depth of the recursion, as wide as the self times of the fib calls at that depth and deeper (the
        # probes' cost taken out), down to the last one at least 0.1 px wide (narrower ones are left out, as flamegraph.pl does).
        $plotWidth = [double]$document.svg.width - 20
        $allSelf = ($fib | Measure-Object SelfNs -Sum).Sum
        $fibCalls = @($fib | Where-Object Function -EQ 'fib')
        $wide = @(1..($fibCalls | Measure-Object Depth -Maximum).Maximum | Where-Object {
                $depth = $_
                ($fibCalls | Where-Object Depth -GE $depth | Measure-Object SelfNs -Sum).Sum / $allSelf * $plotWidth -ge 0.1
            })
        @($document.svg.g.g | Where-Object { $_.title -like 'fib (*' }).Count | Should -Be $wide.Count
        $mainColour = [int[]]($frames['main'].rect.fill -replace '[^0-9,]', '' -split ',')
        $fibColour = [int[]]($frames['fib'].rect.fill -replace '[^0-9,]', '' -split ',')
        # A frame is 15 px high; labels cover part of it.
        Get-PixelCount $png $mainColour | Should -BeGreaterThan (1000 * 10)
        $fibWidth = [double]$frames['fib'].rect.width
        Get-PixelCount $png $fibColour | Should -BeGreaterThan ($fibWidth * 10 * 5)
    }

    It 'zooms into a frame named in the URL' {
        $svg = Join-Path $TestDrive 'chain.svg'
        $chain | ConvertTo-UTraceFlameGraph | Set-Content -Path $svg
        [xml] $dom = (Invoke-Chromium @('--dump-dom', "file://$($svg)?z=c")) -join "`n"
        $dom.svg.'data-zoomed' | Should -Be 'c'
        $visible = @($dom.svg.g.g | Where-Object { $_.class -notmatch 'hidden' } | ForEach-Object { $_.title -replace ' \([^()]*\)$', '' })
        $visible -join ',' | Should -Be 'all,main,a,b,c,usleep'
        ($dom.svg.g.g | Where-Object { $_.title -like 'c (*' }).rect.width | Should -Be '1179.50'
    }
}

Describe 'Reports straight from a trace file (-Path)' -Skip:$noBpf {
    BeforeAll {
        $file = Join-Path $TestDrive 'fib.arrow'
        $live = @(Start-UTrace -Command "$dir/fib 10" -OutFile $file -PassThru)
    }

    It 'gives the same report from the file as from the live CallEvents' {
        (Measure-UTrace -Path (Join-Path $TestDrive 'fib*.arrow') | ConvertTo-Csv) -join "`n" | Should -Be (($live | Measure-UTrace | ConvertTo-Csv) -join "`n")
        (ConvertTo-UTraceFlameGraph -LiteralPath $file -Format Folded) -join "`n" | Should -Be (($live | ConvertTo-UTraceFlameGraph -Format Folded) -join "`n")
        (ConvertTo-UTraceCallGraph -Path $file) -join "`n" | Should -Be (($live | ConvertTo-UTraceCallGraph) -join "`n")
        (ConvertTo-UTraceChromeTrace -Path $file) -join "`n" | Should -Be (($live | ConvertTo-UTraceChromeTrace) -join "`n")
        (Measure-UTrace -Path $file | Where-Object Function -EQ 'fib').Calls | Should -Be 177
    }

    It 'reads the files Get-ChildItem passes down the pipeline' {
        (Get-ChildItem (Join-Path $TestDrive 'fib*.arrow') | Measure-UTrace | ConvertTo-Csv) -join "`n" | Should -Be (($live | Measure-UTrace | ConvertTo-Csv) -join "`n")
        (Get-Item $file | ConvertTo-UTraceFlameGraph -Format Folded) -join "`n" | Should -Be (($live | ConvertTo-UTraceFlameGraph -Format Folded) -join "`n")
    }

    It 'says clearly when a file is missing or is not a trace' {
        Measure-UTrace -Path (Join-Path $TestDrive 'none*.arrow') -ErrorVariable missing -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $missing[0].FullyQualifiedErrorId | Should -Be 'TraceFileNotFound,Utrace.PowerShell.MeasureUTraceCommand'
        $notTrace = Join-Path $TestDrive 'notes.txt'
        Set-Content -Path $notTrace -Value 'not a trace'
        ConvertTo-UTraceFlameGraph -Path $notTrace -Format Folded -ErrorVariable bad -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $bad[0].FullyQualifiedErrorId | Should -Be 'InvalidTraceFile,Utrace.PowerShell.ConvertToUTraceFlameGraphCommand'
        $bad[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }
}
