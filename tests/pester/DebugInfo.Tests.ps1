# Debug info (programs built with -g): each function's source file and line, equal to addr2line's,
# on Get-UTraceFunction, CallEvent, the trace file and the reports; and -Capture Auto, whose specs
# come from DWARF or from Utrace's libc prototypes.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $debugBuilds = foreach ($cc in 'gcc', 'clang') {
        foreach ($opt in 'O0', 'O2') {
            foreach ($program in 'fib', 'chain', 'params', 'cxx') { @{ Build = "$cc-$opt/$program" } }
        }
    }
    $paramsBuilds = foreach ($cc in 'gcc', 'clang') { foreach ($opt in 'O0', 'O2') { @{ Build = "$cc-$opt/params" } } }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $debugBin = Join-Path $FixtureBin 'debug'
    $fixtureSources = (Resolve-Path (Join-Path $PSScriptRoot '../fixtures')).Path

    # addr2line's file:line for each function symbol of a program, by its name in the symbol table.
    function Get-Addr2Line([string] $Path) {
        $symbols = @(nm --defined-only $Path | Where-Object { $_ -match '^([0-9a-f]+) [tTW] (\S+)$' } |
            ForEach-Object { [pscustomobject]@{ Hex = "0x$($Matches[1])"; Name = $Matches[2] } })
        # (An array's .Address is its own method, not its items' property: hence Hex.)
        $answers = @(addr2line -e $Path @($symbols.Hex))
        $lines = @{}
        for ($i = 0; $i -lt $symbols.Count; $i++) { $lines[$symbols[$i].Name] = ($answers[$i] -split ' \(discriminator')[0] }
        $lines
    }
}

Describe 'Source lines from debug info' {
    It 'gives each function of <Build> the file and line addr2line gives, and a library call none' -ForEach $debugBuilds {
        $path = Join-Path $debugBin $Build
        $expected = Get-Addr2Line $path
        $functions = @(Get-UTraceFunction -Path $path)
        $own = @($functions | Where-Object Kind -EQ 'Function')
        $own.Count | Should -BeGreaterThan 1
        foreach ($function in $own) {
            "$($function.SourceFile):$($function.SourceLine)" | Should -Be $expected[$function.RawName] -Because $function.Name
        }
        $functions | Where-Object Kind -EQ 'LibraryCall' | Where-Object { $null -ne $_.SourceFile -or $null -ne $_.SourceLine } | Should -BeNullOrEmpty
    }

    It 'has a function''s file and line as properties, for Format-List and Select-Object' {
        $fib = Get-UTraceFunction -Path "$debugBin/gcc-O0/fib" -Function fib
        $fib.SourceFile | Should -Be (Join-Path $fixtureSources 'fib.c')
        $fib.SourceLine | Should -Be 7
        ($fib | Format-List | Out-String) | Should -Match "SourceLine +: 7"
    }

    It 'says nothing without debug info' {
        $functions = @(Get-UTraceFunction -Path "$FixtureBin/gcc-O2-pie/fib")
        $functions | Where-Object { $null -ne $_.SourceFile -or $null -ne $_.SourceLine } | Should -BeNullOrEmpty
    }
}

Describe 'Source lines in a trace and its reports' -Skip:$noBpf {
    BeforeAll {
        $chainPath = "$debugBin/gcc-O2/chain"
        $chainSource = Join-Path $fixtureSources 'chain.c'
        $lineOf = @{ main = 12; a = 9; b = 8; c = 7 }
        $file = Join-Path ([IO.Path]::GetTempPath()) "utrace-debuginfo-$PID.utrace"
        $chain = @(Start-UTrace -Command $chainPath -Function main, a, b, c -OutFile $file -PassThru)
    }
    AfterAll { Remove-Item $file -ErrorAction SilentlyContinue }

    It 'gives each CallEvent its function''s file and line, and the trace file keeps them' {
        $expected = Get-Addr2Line $chainPath
        @($chain | ForEach-Object { "$($_.Function) $($_.SourceFile):$($_.SourceLine)" }) |
            Should -Be @('c', 'b', 'a', 'main' | ForEach-Object { "$_ $($expected[$_])" })
        foreach ($name in 'main', 'a', 'b', 'c') { $expected[$name] | Should -Be "${chainSource}:$($lineOf[$name])" }
        $imported = @(Import-UTrace $file)
        @($imported | ForEach-Object { "$($_.Function) $($_.SourceFile):$($_.SourceLine)" }) |
            Should -Be @($chain | ForEach-Object { "$($_.Function) $($_.SourceFile):$($_.SourceLine)" })
    }

    It 'ends each entry of the call graph with its source line' {
        $lines = @($chain | ConvertTo-UTraceCallGraph | Select-Object -Skip 1 | ForEach-Object { $_ -replace '^[^\[]*\[ *\d+\] \| ' })
        $lines | Should -Be @(
            'main() { /* chain.c:12 */', '  a() { /* chain.c:9 */', '    b() { /* chain.c:8 */', '      c(); /* chain.c:7 */',
            '    } /* b */', '  } /* a */', '} /* main */')
    }

    It 'puts the file and line in the flame graph''s tooltips and the Chrome and Perfetto args' {
        [xml] $svg = $chain | ConvertTo-UTraceFlameGraph | Out-String
        $titles = @($svg.svg.g.g | ForEach-Object title)
        $titles | Where-Object { $_ -like 'b (*' } | Should -Match "^b \([^()]*\)`n$([regex]::Escape($chainSource)):8$"
        $events = @(($chain | ConvertTo-UTraceChromeTrace) -join "`n" | ConvertFrom-Json | Where-Object ph -EQ 'X')
        @($events | ForEach-Object { "$($_.name) $($_.args.file):$($_.args.line)" } | Sort-Object) |
            Should -Be @('a', 'b', 'c', 'main' | ForEach-Object { "$_ ${chainSource}:$($lineOf[$_])" })
        $perfetto = Join-Path ([IO.Path]::GetTempPath()) "utrace-debuginfo-$PID.perfetto-trace"
        try {
            $chain | ConvertTo-UTracePerfetto -OutFile $perfetto | Out-Null
            $bytes = [IO.File]::ReadAllText($perfetto, [Text.Encoding]::Latin1)
            ([regex]::Matches($bytes, [regex]::Escape($chainSource))).Count | Should -Be 4
        }
        finally { Remove-Item $perfetto -ErrorAction SilentlyContinue }
    }
}

Describe 'Start-UTrace -Capture Auto' -Skip:$noBpf {
    BeforeAll {
        # params.c's calls as the hand-written specs read them, and what Auto must show of them.
        $handSpecs = @{
            mix = 'int, uint, long, ulong, char, string -> long'
            scaled = 'int, string -> int'
            by_value = '-> long'
            keep = 'ptr, ulong, bool -> ptr'
            narrow = 'short, ushort, char -> char'
        }
        $autoText = @{
            mix = 'mix(-5, 7, -9000000000, 18000000000, ''x'', "mixed") = 9000000231'
            scaled = 'scaled(<double>, 4, "label") = 118'
            by_value = 'by_value(<struct>, <int>) = 18'
            narrow = 'narrow(-300, 60000, ''\xf9'') = ''-'''
        }
    }

    It 'reads from DWARF every integer, pointer and string argument the hand-written spec reads (<Build>)' -ForEach $paramsBuilds {
        $path = Join-Path $debugBin $Build
        $functions = @($handSpecs.Keys)
        $hand = @(Start-UTrace -Command $path -Function $functions -Capture $handSpecs)
        $auto = @(Start-UTrace -Command $path -Function $functions -Capture Auto)
        $hand.Count | Should -Be 5
        $auto.Count | Should -Be 5
        for ($i = 0; $i -lt 5; $i++) {
            $auto[$i].Function | Should -Be $hand[$i].Function
            $read = @($auto[$i].Arguments | Where-Object { $_ -isnot [Utrace.UnreadArgument] })
            $read.Count | Should -Be ($hand[$i].Arguments ?? @()).Count -Because $hand[$i].Function
            for ($j = 0; $j -lt $read.Count; $j++) {
                # Stack addresses differ from run to run: a pointer is a pointer in both.
                if ($read[$j] -is [Utrace.Pointer]) { $hand[$i].Arguments[$j] | Should -BeOfType [Utrace.Pointer] }
                else { $read[$j] | Should -BeExactly $hand[$i].Arguments[$j] -Because "$($hand[$i].Function) argument $j" }
            }
            if ($auto[$i].ReturnValue -is [Utrace.Pointer]) { $hand[$i].ReturnValue | Should -BeOfType [Utrace.Pointer] }
            else { $auto[$i].ReturnValue | Should -BeExactly $hand[$i].ReturnValue }
        }
        $byName = @{}
        $auto | ForEach-Object { $byName[$_.Function] = [Utrace.CallText]::Of($_) }
        foreach ($name in $autoText.Keys) { $byName[$name] | Should -BeExactly $autoText[$name] }
        $byName['keep'] | Should -Match '^keep\(0x[0-9a-f]+, 16, true\) = 0x[0-9a-f]+$'
    }

    It 'reads a library call''s arguments from the libc prototypes: what the program printed' {
        $report = Join-Path ([IO.Path]::GetTempPath()) "utrace-libcio-$PID.txt"
        try {
            $calls = @(Start-UTrace -Command "$FixtureBin/shared/libcio /etc/hosts $report" -Function open, read, close, strlen, malloc -Capture Auto)
            $LASTEXITCODE | Should -Be 0
            @($calls | ForEach-Object { [Utrace.CallText]::Of($_) }) | Should -BeExactly @(Get-Content $report)
        }
        finally { Remove-Item $report -ErrorAction SilentlyContinue }
    }

    It 'lets a written spec win over auto, and captures nothing of a function neither debug info nor the table knows' {
        $calls = @(Start-UTrace -Command "$FixtureBin/gcc-O2-pie/fib 3" -Function fib -Capture @{ '*' = 'auto' })
        $calls.Count | Should -Be 5
        $calls | Where-Object { $null -ne $_.Arguments -or $null -ne $_.ReturnValue } | Should -BeNullOrEmpty
        $written = @(Start-UTrace -Command "$debugBin/gcc-O2/params" -Function mix, scaled -Capture @{ '*' = 'auto'; mix = '-> long' })
        @($written | ForEach-Object { [Utrace.CallText]::Of($_) }) | Should -BeExactly @('mix = 9000000231', 'scaled(<double>, 4, "label") = 118')
    }

    It 'refuses a -Capture word other than Auto, saying what it takes' {
        $record = Get-ErrorRecord { Start-UTrace -Command "$FixtureBin/gcc-O2-pie/fib 3" -Capture Everything }
        $record.Exception.Message | Should -Match "'Everything' is neither Auto nor a hashtable"
    }
}
