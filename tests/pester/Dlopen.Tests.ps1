# Libraries loaded after start (dlopen): with -NestLibrary, a matching library is probed when the
# dynamic linker maps it, before dlopen returns, in a launched and in an attached process.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $variants = @(Get-FixtureVariant)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ProgramRuns.ps1')
    $library = Join-Path $FixtureBin 'shared/libgreet.so'

    function Get-Count($Events) {
        ($Events | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }) -join ' '
    }
}

Describe 'Libraries loaded with dlopen' -Skip:$noBpf {
    It 'traces a library the program dlopens, with exact counts (<Variant>)' -ForEach $variants {
        $events = Start-UTrace -Command "$Dir/dlopener $library 7" -NestLibrary 'libgreet*' -Function 'greet*', 'call_greet'
        Get-Count $events | Should -Be 'call_greet=7 greet=7 greet_helper=14'
        ($events | Where-Object Function -Like 'greet*').Module | Sort-Object -Unique | Should -Be 'libgreet.so'
        ($events | Where-Object Function -EQ 'greet')[0].Caller | Should -Be 'call_greet'
        $events.Program | Sort-Object -Unique | Should -Be 'dlopener'
    }

    It 'sees PyInit__json once when python3.11 imports _json from lib-dynload' {
        $events = Start-UTrace -Command "/usr/bin/python3.11 -c 'import _json'" -NestLibrary '_json*' -Function 'PyInit__json'
        @($events).Count | Should -Be 1
        $events[0].Function | Should -Be 'PyInit__json'
        $events[0].Module | Should -Be '_json.cpython-311-x86_64-linux-gnu.so'
    }

    It 'traces a library an attached process dlopens after the attach' {
        $bin = Join-Path $FixtureBin 'clang-O2-pie'
        $release = Join-Path $TestDrive 'release'
        $process = Start-Process "$bin/dlopener" -ArgumentList $library, 4, $release -RedirectStandardOutput (Join-Path $TestDrive 'out') -PassThru
        $job = Start-UTrace -ProcessId $process.Id -NestLibrary 'libgreet*' -Function 'greet*' -AsJob -Confirm:$false
        Set-Content $release ''
        $job | Wait-Job -Timeout 60 | Out-Null
        Get-Count (Receive-Job $job) | Should -Be 'greet=4 greet_helper=8'
        Remove-Job $job
        Get-Content (Join-Path $TestDrive 'out') | Should -Be '32'
    }

    It 'records functions added while -OutFile writes: Import-UTrace and apache-arrow under node read them' {
        $nodeDir = (Resolve-Path (Join-Path $PSScriptRoot '../node')).Path
        if (-not (Test-Path (Join-Path $nodeDir 'node_modules/apache-arrow'))) {
            npm ci --prefix $nodeDir --no-audit --no-fund | Out-Host
        }
        $bin = Join-Path $FixtureBin 'gcc-O0-nopie'
        $dlopened = Join-Path $TestDrive 'dlopen.arrows'
        Start-UTrace -Command "$bin/dlopener $library" -NestLibrary 'libgreet*' -Function 'greet*' -OutFile $dlopened | Out-Null
        Get-Count (Import-UTrace $dlopened) | Should -Be 'greet=5 greet_helper=10'
        (node (Join-Path $nodeDir 'read-trace.mjs') $dlopened | ConvertFrom-Json).calls.greet_helper | Should -Be 10
        $followed = Join-Path $TestDrive 'follow.arrows'
        Start-UTrace -Command "$bin/workers" -Follow -Function 'work' -OutFile $followed | Out-Null
        (Import-UTrace $followed | Group-Object ProcessId | ForEach-Object Count | Sort-Object) -join ',' | Should -Be '3,25,50,75,100'
        (node (Join-Path $nodeDir 'read-trace.mjs') $followed | ConvertFrom-Json).rows | Should -Be 253
    }

    It 'the program prints and returns exactly what it does untraced' {
        $runs = foreach ($variant in @(Get-FixtureVariant)[0, 7]) {
            foreach ($mode in 'untraced', 'traced') {
                @{
                    Key = "$($variant.Variant)/$mode"
                    Program = Join-Path $variant.Dir 'dlopener'
                    Arguments = @($library)
                    Trace = if ($mode -eq 'traced') { @{ NestLibrary = 'libgreet*' } } else { $null }
                    CallLimits = @{}
                }
            }
        }
        $results = Invoke-ProgramRunBatch -Run $runs -WorkDirectory (Join-Path $TestDrive 'runs')
        foreach ($variant in @(Get-FixtureVariant)[0, 7]) {
            Format-ProgramRun $results["$($variant.Variant)/untraced"] | Should -Be "exit 0; stdout '50\n'; stderr ''"
            Format-ProgramRun $results["$($variant.Variant)/traced"] | Should -Be (Format-ProgramRun $results["$($variant.Variant)/untraced"])
            $results["$($variant.Variant)/traced"].Counts.greet | Should -Be 5
        }
    }
}
