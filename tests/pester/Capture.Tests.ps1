# Start-UTrace -Capture: arguments and return values captured in the kernel, typed by a spec,
# on the fixture programs built by gcc and clang.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $variants = @(Get-FixtureVariant)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $bin = Join-Path $FixtureBin 'gcc-O2-pie'
    $stringSpecs = @{ strlen = 'string -> ulong'; is_null = 'string, int -> int' }

    # The strings strings.c hands to strlen, in order, as its source writes them.
    $hex = '0123456789abcdef'
    $longString = ($hex * 16) + 'and 16 more byte'
    $words = @('first, from a page nobody has read', '', 'hello', "tab`tand `"quotes`"", $longString)

    # How often fib(10) calls fib(n), and fib(n) itself, by walking the recursion here.
    $expectedCalls = @{}
    function Invoke-FibRecursion([int] $n) {
        $expectedCalls[$n]++
        if ($n -ge 2) { Invoke-FibRecursion ($n - 1); Invoke-FibRecursion ($n - 2) }
    }
    Invoke-FibRecursion 10
    $fibOf = @{ 0 = 0; 1 = 1 }
    foreach ($n in 2..10) { $fibOf[$n] = $fibOf[$n - 1] + $fibOf[$n - 2] }

    function Format-ArgumentCount($Calls) {
        ($Calls | Group-Object { $_.Arguments[0] } | Sort-Object { [int]$_.Name } | ForEach-Object { "$($_.Name)x$($_.Count)" }) -join ' '
    }
}

Describe 'Start-UTrace -Capture' -Skip:$noBpf {
    It 'sees every n of fib(10) as often as the recursion asks, and fib(n) returned (<Variant>, <Mode>)' -ForEach @(
        $variants | ForEach-Object { $_ + @{ Mode = 'Uretprobe' } }
        @{ Variant = 'gcc-O2-pie'; Dir = Join-Path $FixtureBin 'gcc-O2-pie'; Mode = 'RetInstruction' }
        @{ Variant = 'clang-O2-nopie'; Dir = Join-Path $FixtureBin 'clang-O2-nopie'; Mode = 'RetInstruction' }
    ) {
        $calls = @(Start-UTrace -Command "$Dir/fib 10" -Function fib -ReturnMode $Mode -Capture @{ fib = 'int -> int' })
        $LASTEXITCODE | Should -Be 0
        $calls.Count | Should -Be 177
        Format-ArgumentCount $calls | Should -Be (($expectedCalls.Keys | Sort-Object | ForEach-Object { "${_}x$($expectedCalls[$_])" }) -join ' ')
        foreach ($call in $calls) {
            $call.Arguments.Count | Should -Be 1
            $call.Arguments[0] | Should -BeOfType [int]
            $call.ReturnValue | Should -BeOfType [int]
            $call.ReturnValue | Should -Be $fibOf[$call.Arguments[0]] -Because "fib($($call.Arguments[0])) = $($fibOf[$call.Arguments[0]])"
        }
    }

    It 'pairs each value with its own call when the kernel filters calls out (-MinDuration)' {
        # Which calls last 2 us varies; that every reported one has its own n and fib(n) does not.
        $calls = @(Start-UTrace -Command "$bin/fib 10" -Function fib -MinDuration '2us' -Capture @{ fib = 'int -> int' })
        $calls.Count | Should -BeLessOrEqual 177
        $calls | Where-Object { $null -eq $_.Arguments -or $_.ReturnValue -ne $fibOf[$_.Arguments[0]] } | Should -BeNullOrEmpty
        $calls[-1].Arguments[0] | Should -Be 10
    }

    It 'keeps each thread''s values with that thread: 4 threads call work(0) to work(999) in order' {
        $calls = @(Start-UTrace -Command "$bin/threads" -Function work, run -Capture @{ work = 'int'; run = 'ptr -> ptr' })
        $work = @($calls | Where-Object Function -EQ 'work')
        $work.Count | Should -Be 4000
        $byThread = @($work | Group-Object ThreadId)
        $byThread.Count | Should -Be 4
        foreach ($thread in $byThread) {
            ($thread.Group | ForEach-Object { $_.Arguments[0] }) -join ',' | Should -Be ((0..999) -join ',')
        }
        $run = @($calls | Where-Object Function -EQ 'run')
        $run.Count | Should -Be 4
        $run | ForEach-Object { $_.ReturnValue | Should -Be ([Utrace.Pointer]::new(0)) }
        $run | ForEach-Object { $_.Arguments[0].Address | Should -Be 0 }
    }

    It 'has the arguments but no return value when calls are reported at entry' {
        $calls = @(Start-UTrace -Command "$bin/fib 10" -Function fib -ReturnMode EntryOnly -Capture @{ fib = 'int -> int' } -WarningVariable warnings 3>$null)
        Format-ArgumentCount $calls | Should -Be (($expectedCalls.Keys | Sort-Object | ForEach-Object { "${_}x$($expectedCalls[$_])" }) -join ' ')
        $calls | Where-Object { $null -ne $_.ReturnValue } | Should -BeNullOrEmpty
        "$warnings" | Should -Be 'Return values are not captured: calls are reported at their entry (-ReturnMode EntryOnly), before they return.'
    }

    It 'reads the strings strlen gets, the first from a page the program had not touched, with their lengths (<Variant>)' -ForEach $variants {
        $calls = @(Start-UTrace -Command "$Dir/strings" -Function strlen, is_null -Capture $stringSpecs)
        $strlen = @($calls | Where-Object Function -EQ 'strlen')
        $strlen.Count | Should -Be $words.Count
        for ($i = 0; $i -lt $words.Count; $i++) {
            $word = $words[$i]
            # Kept up to 255 bytes, then marked as cut.
            $shown = if ($word.Length -gt 255) { $word.Substring(0, 255) + [char]0x2026 } else { $word }
            $strlen[$i].Arguments[0] | Should -BeExactly $shown
            $strlen[$i].ReturnValue | Should -BeOfType [uint64]
            $strlen[$i].ReturnValue | Should -Be ([Text.Encoding]::UTF8.GetByteCount($word))
        }
    }

    It 'tells a NULL string from one it cannot read: never an empty string' {
        $calls = @(Start-UTrace -Command "$bin/strings" -Function is_null -Capture @{ is_null = $stringSpecs.is_null })
        $calls.Count | Should -Be 2
        $calls[0].Arguments[0] | Should -BeNullOrEmpty
        $calls[0].Arguments[1] | Should -Be 7
        $calls[0].ReturnValue | Should -Be 7
        $calls[1].Arguments[0] | Should -BeOfType [Utrace.UnreadableString]
        $calls[1].Arguments[0].Address.Address | Should -Be 16
        $calls[1].Arguments.ToString() | Should -Be '<unreadable 0x10>, 8'
        $calls[0].Arguments.ToString() | Should -Be 'NULL, 7'
    }

    It 'leaves the traced program printing and returning exactly what it does untraced' {
        $untraced = & "$bin/strings"
        $untracedExit = $LASTEXITCODE
        # The page holding the first string is not mapped when strlen gets it.
        $untraced[0] | Should -Be 'first page mapped before strlen: no'
        $script = "Import-Module '$((Resolve-Path (Join-Path $PSScriptRoot '../../Utrace.psd1')).Path)'; " +
            "Start-UTrace -Command '$bin/strings' -Capture @{ strlen = 'string -> ulong'; is_null = 'string, int -> int'; main = '-> int' } | Out-Null; exit `$LASTEXITCODE"
        $traced = pwsh -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be $untracedExit
        $traced -join "`n" | Should -BeExactly ($untraced -join "`n")
    }

    It 'shows captured calls in the default view as C writes a call: <Program>' -ForEach @(
        @{ Program = 'fib 2'; Function = 'fib'; Spec = 'int -> int'; Shown = @('  fib(1) = 1', '  fib(0) = 0', 'fib(2) = 1') }
        # A demangled C++ name gives up its parameter list ('int twice<int>(int)') for the values.
        @{ Program = 'cxx'; Function = '*twice*'; Spec = 'int -> int'; Shown = @('int twice<int>(0) = 0', 'int twice<int>(1) = 2', 'int twice<int>(2) = 4') }
    ) {
        $calls = @(Start-UTrace -Command "$bin/$Program" -Function $Function -Capture @{ $Function = $Spec })
        $lines = ($calls | Format-Table | Out-String -Width 120) -split "`n" | ForEach-Object TrimEnd | Where-Object { $_ -match '^\s*[\d.]+ \w+\s+\d+ ' }
        $lines | ForEach-Object { $_ -replace '^\s*[\d.]+ \w+\s+\d+ ', '' } | Should -Be $Shown
    }

    It 'exports them: Export-Csv writes them as C writes a call, ConvertTo-Json as typed values' {
        $calls = @(Start-UTrace -Command "$bin/strings" -Function strlen, is_null -Capture $stringSpecs)
        $csv = Join-Path $TestDrive 'calls.csv'
        $calls | Export-Csv $csv
        $rows = Import-Csv $csv
        $rows[2].Arguments | Should -BeExactly '"hello"'
        $rows[2].ReturnValue | Should -Be '5'
        $rows[5].Arguments | Should -BeExactly 'NULL, 7'
        $json = $calls[3] | Select-Object Function, Arguments, ReturnValue | ConvertTo-Json -Compress
        $json | Should -BeExactly '{"Function":"strlen","Arguments":["tab\tand \"quotes\""],"ReturnValue":16}'
    }

    It 'records them in a trace file, read back by Import-UTrace and by apache-arrow under node' {
        $file = Join-Path $TestDrive 'captured.arrows'
        $live = @(Start-UTrace -Command "$bin/strings" -Function strlen, is_null -Capture $stringSpecs -OutFile $file -PassThru)
        $read = @(Import-UTrace $file)
        $read.Count | Should -Be 7
        ($read | ForEach-Object { "$($_.Function)($($_.Arguments.ToString())) = $($_.ReturnValue)" }) |
            Should -Be ($live | ForEach-Object { "$($_.Function)($($_.Arguments.ToString())) = $($_.ReturnValue)" })
        $nodeDir = (Resolve-Path (Join-Path $PSScriptRoot '../node')).Path
        if (-not (Test-Path (Join-Path $nodeDir 'node_modules/apache-arrow'))) {
            npm ci --prefix $nodeDir --no-audit --no-fund | Out-Host
        }
        $seen = node (Join-Path $nodeDir 'read-trace.mjs') $file | ConvertFrom-Json
        $LASTEXITCODE | Should -Be 0
        $seen.formatVersion | Should -Be '2.0'
        $seen.columns[-3..-1] -join ',' | Should -Be 'arguments:List<Uint64>,argument_strings:List<Utf8>,return_value:Uint64'
        $seen.captured.Count | Should -Be 7
        $seen.captured[2].strings[0] | Should -BeExactly 'hello'
        $seen.captured[2].returnValue | Should -Be '5'
        $seen.captured[5].arguments[0..1] -join ',' | Should -Be '0,7'
    }
}

Describe 'Captured values that leave the session' -Skip:$noBpf {
    BeforeAll {
        $live = @(Start-UTrace -Command "$bin/fib 5" -Function fib -Capture @{ fib = 'int -> int' })
        $expected = ($live | ForEach-Object { "$($_.Arguments[0])=$($_.ReturnValue)" }) -join ' '
    }

    It 'come back from Export-Clixml with their calls, which still measure' {
        $file = Join-Path $TestDrive 'fib5.xml'
        $live | Export-Clixml $file
        $back = @(Import-Clixml $file)
        ($back | ForEach-Object { "$($_.Arguments[0])=$($_.ReturnValue)" }) -join ' ' | Should -Be $expected
        ($back | Measure-UTrace | Where-Object Function -EQ fib).Calls | Should -Be 15
        ($back | Measure-Object DurationNs -Sum).Sum | Should -Be ($live | Measure-Object DurationNs -Sum).Sum
    }

    It 'come back from a job (serialized like remoting output)' {
        $module = Join-Path $PSScriptRoot '../../Utrace.psd1'
        $back = @(Start-Job { Import-Module $using:module; Start-UTrace -Command "$using:bin/fib 5" -Function fib -Capture @{ fib = 'int -> int' } } |
            Receive-Job -Wait -AutoRemoveJob | Where-Object { $_.PSObject.Properties['DurationNs'] })
        ($back | ForEach-Object { "$($_.Arguments[0])=$($_.ReturnValue)" }) -join ' ' | Should -Be $expected
    }
}

Describe 'A bad -Capture' -Skip:$noBpf {
    It "'<Spec>' is an InvalidArgument error that says why, before anything runs" -ForEach @(
        @{ Spec = 'flaot'; Why = "The capture spec 'flaot' has 'flaot', which is not a capture type." }
        @{ Spec = 'double'; Why = "The capture spec 'double' has 'double': floating-point arguments are passed in SSE registers, which a uprobe's BPF program cannot read." }
        @{ Spec = 'int, int, int, int, int, int, int'; Why = "The capture spec 'int, int, int, int, int, int, int' names 7 arguments: only the first 6 are passed in registers (rdi, rsi, rdx, rcx, r8, r9), the others on the stack, which Utrace does not read." }
        @{ Spec = 'int -> string'; Why = "The capture spec 'int -> string' returns 'string': a return value is captured as a number; write 'ptr' for a returned string's address." }
    ) {
        $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 3" -Capture @{ fib = $Spec } }
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.FullyQualifiedErrorId | Should -Be 'InvalidCaptureSpec,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be $Spec
        $err.Exception.Message | Should -Be "-Capture fib: $Why"
        $err.ErrorDetails.RecommendedAction | Should -BeLike "Write argument types in order*Types: int, uint, long, ulong, short, ushort, char, bool, ptr, string; a C type in angle brackets ('<double>')*'auto'*"
    }

    It 'a pattern that matches no traced function is an ObjectNotFound error' {
        $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 3" -Function fib -Capture @{ 'str*' = 'string' } }
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.FullyQualifiedErrorId | Should -Be 'CaptureMatchesNothing,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be 'str*'
    }

    It 'two patterns that give one function different specs are an error that names both' {
        $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 3" -Function fib -Capture ([ordered]@{ fib = 'int'; 'f*' = 'long' }) }
        $err.FullyQualifiedErrorId | Should -Be 'CaptureConflict,Utrace.PowerShell.StartUTraceCommand'
        $err.Exception.Message | Should -Be "-Capture gives fib two specs: 'int' by 'fib' and 'long' by 'f*'."
    }

    It 'with -Summary is an error: nothing is sent to capture' {
        $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 3" -Summary -Capture @{ fib = 'int' } }
        $err.FullyQualifiedErrorId | Should -Be 'CaptureWithSummary,Utrace.PowerShell.StartUTraceCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}
