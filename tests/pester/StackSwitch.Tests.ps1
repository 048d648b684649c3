# Stack switches decided by what a process does, not by what it imports: a program linked with
# libcrypto (which imports swapcontext for OpenSSL's ASYNC jobs) and a real server linked with it keep
# every duration (redis-server and redis-benchmark come from scripts/install-deps.sh); a program that does switch keeps the durations of its calls before the first switch,
# is reported entry-only after it, with one warning that says when, and computes what it does untraced.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $PSScriptRoot 'ProgramRuns.ps1')
    $shared = Join-Path $FixtureBin 'shared'
    $digest = @{ Program = Join-Path $shared 'digest'; Arguments = @(); CallLimits = @{} }
    $late = @{ Program = Join-Path $shared 'switchlate'; Arguments = @(); CallLimits = @{ resume = 100 } }
    $lateFunctions = 'main', 'measure', 'resume', 'coroutine', 'yield'
    $runs = @(
        $digest + @{ Key = 'digest/untraced'; Trace = $null }
        $digest + @{ Key = 'digest/default'; Trace = @{} }
        $late + @{ Key = 'late/untraced'; Trace = $null }
        $late + @{ Key = 'late/default'; Trace = @{ Function = $lateFunctions } }
        $late + @{ Key = 'late/depth'; Trace = @{ Function = $lateFunctions; MaxDepth = 1 } }
    )
    $script:Results = Invoke-ProgramRunBatch -Run $runs -WorkDirectory (Join-Path $TestDrive 'runs') -TimeoutSeconds 120
    $script:SwitchWarning = '^switchlate \(process \d+\) switched stacks \(swapcontext, thread \d+\) at \d\d:\d\d:\d\d\.\d{3}: from then on ' +
        'its calls are reported at entry, without durations, since return probes would have broken the switch \(the calls then running ' +
        'in that thread have none either\)\.$'
}

Describe 'A program linked with libcrypto that never switches stacks' -Skip:$noBpf {
    It 'writes and exits as untraced, and every call has its duration, without a warning' {
        $run = $Results['digest/default']
        Format-ProgramRun $run | Should -BeExactly (Format-ProgramRun $Results['digest/untraced'])
        Format-ProgramRun $Results['digest/untraced'] | Should -BeExactly "exit 0; stdout '608a0fce3943786ef2ab504eeb591865bcef1c5f01a1731cbe88dbc4d2e4d7e1\n'; stderr ''"
        Format-CallCount @{ digest = 10; SHA256 = 10; main = 1 } $run.Counts | Should -Be 'digest=10 main=1 SHA256=10'
        Format-CallCount @{ digest = 10; SHA256 = 10; main = 1 } $run.Timed | Should -Be 'digest=10 main=1 SHA256=10'
        $run.Warnings | Should -BeNullOrEmpty
    }
}

Describe 'A program that switches stacks after some calls' -Skip:$noBpf {
    It 'writes and exits as untraced (<_>)' -ForEach 'late/default', 'late/depth' {
        Format-ProgramRun $Results['late/untraced'] | Should -BeExactly "exit 0; stdout 'total 15 yields 2\n'; stderr ''"
        Format-ProgramRun $Results[$_] | Should -BeExactly (Format-ProgramRun $Results['late/untraced'])
    }

    It 'counts every call once, timing those that ended before the first switch, and says when it switched' {
        $run = $Results['late/default']
        $expected = @{ main = 1; measure = 6; resume = 3; coroutine = 1; yield = 2 }
        Format-CallCount $expected $run.Counts | Should -Be 'coroutine=1 main=1 measure=6 resume=3 yield=2'
        # measure(0..2) returned before the first resume switched; main and that resume were running then.
        Format-CallCount $expected $run.Timed | Should -Be 'coroutine=0 main=0 measure=3 resume=0 yield=0'
        $run.Warnings | Should -HaveCount 1
        $run.Warnings[0] | Should -Match $SwitchWarning
    }

    It 'keeps -MaxDepth for the calls reported when the switch ended their return probes' {
        $run = $Results['late/depth']
        # Depth 0 and 1 only: yield (depth 3 under the first resume, 2 under the others) and coroutine (2) are left out.
        Format-CallCount @{ main = 1; measure = 6; resume = 3; coroutine = 0; yield = 0 } $run.Counts |
            Should -Be 'coroutine=0 main=1 measure=6 resume=3 yield=0'
        $run.Timed['measure'] | Should -Be 3
    }
}

Describe 'redis-server, linked with libcrypto, attached under redis-benchmark' -Skip:$noBpf {
    BeforeAll {
        $port = Get-Random -Minimum 20000 -Maximum 30000
        $dir = Join-Path $TestDrive 'redis'
        New-Item -ItemType Directory $dir | Out-Null
        $redis = Start-Process redis-server -ArgumentList '--port', $port, '--save', '""', '--appendonly', 'no', '--dir', $dir `
            -RedirectStandardOutput (Join-Path $dir 'out') -PassThru
        function Get-RedisCallCount([string] $Command) {
            $line = redis-cli -p $port info commandstats | Select-String "cmdstat_$($Command):calls=(\d+)"
            if ($line) { [int]$line.Matches[0].Groups[1].Value } else { 0 }
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ((redis-cli -p $port ping 2>$null) -ne 'PONG' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }

        $before = @{ set = Get-RedisCallCount set; get = Get-RedisCallCount get }
        $job = Start-UTrace -ProcessId $redis.Id -Function setCommand, getCommand, processCommand -AsJob
        # Attached once the job runs; the benchmark's own commands are then all seen.
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ($job.State -ne 'Running' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        redis-benchmark -p $port -n 1000 -c 4 -t 'set,get' -q | Out-Null
        $script:RedisCounted = @{ set = (Get-RedisCallCount set) - $before.set; get = (Get-RedisCallCount get) - $before.get }
        Stop-UTrace $job | Out-Null
        $script:Calls = @(Receive-Job $job -Wait -WarningVariable redisWarnings)
        $script:RedisWarnings = $redisWarnings
        $job | Remove-Job
        $script:Summary = $Calls | Measure-UTrace
        $script:FlameGraph = $Calls | ConvertTo-UTraceFlameGraph
        redis-cli -p $port shutdown nosave | Out-Null
        $redis.WaitForExit(20000) | Out-Null
    }

    AfterAll {
        if ($redis -and -not $redis.HasExited) { $redis.Kill() }
    }

    It 'reports each command redis counted, every call with its duration' {
        $RedisCounted.set | Should -Be 1000
        $RedisCounted.get | Should -Be 1000
        @($Calls | Where-Object Function -EQ setCommand).Count | Should -Be $RedisCounted.set
        @($Calls | Where-Object Function -EQ getCommand).Count | Should -Be $RedisCounted.get
        @($Calls | Where-Object { -not $_.HasDuration }).Count | Should -Be 0
        $RedisWarnings | Should -BeNullOrEmpty
    }

    It 'shows them in Measure-UTrace and the flame graph' {
        $set = $Summary | Where-Object Function -EQ setCommand
        $set.Calls | Should -Be 1000
        $set.Total.Nanoseconds | Should -BeGreaterThan 0
        ($Summary | Where-Object Function -EQ processCommand).Total.Nanoseconds | Should -BeGreaterThan $set.Total.Nanoseconds
        # A frame per command under processCommand, as wide as its time: none without one.
        $FlameGraph | Should -Match 'data-ns="[1-9]\d*"><title>setCommand \('
        $FlameGraph | Should -Match 'data-ns="[1-9]\d*"><title>getCommand \('
    }

    It 'leaves redis-server serving and shutting down as untraced' {
        $redis.HasExited | Should -BeTrue
        $redis.ExitCode | Should -Be 0
    }
}
